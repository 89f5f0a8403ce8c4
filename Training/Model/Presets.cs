using FashionGpu.Training.Model.Layers;

namespace FashionGpu.Training.Model;

/// <summary>A named model with the training recipe it is meant to be trained with.</summary>
public sealed record ModelPreset(string Name, string Description, Func<TrainingConfig, Model> Build, Func<TrainingConfig, TrainingConfig> Recipe);

/// <summary>The models <c>--model NAME</c> picks from.</summary>
public static class Presets
{
    public const string Default = "seed";

    /// <summary>
    /// The seed's CNN, layer names as its checkpoints have always had them: Conv 32 3x3 + ReLU,
    /// MaxPool 2, Conv 64 3x3 + ReLU, MaxPool 2, Dropout, Dense 128 + ReLU, Dropout, Dense 10.
    /// </summary>
    /// <param name="trim">Compute only what later layers read (see <see cref="Model"/>); tests compare with false.</param>
    public static Model Seed(TrainingConfig config, bool trim = true) => new("seed",
    [
        new Conv2dLayer("conv1", 32, 3, relu: true),
        new MaxPool2dLayer("pool1"),
        new Conv2dLayer("conv2", 64, 3, relu: true),
        new MaxPool2dLayer("pool2"),
        new DropoutLayer("dropout1", config.Dropout1),
        new DenseLayer("fc1", 128, relu: true),
        new DropoutLayer("dropout2", config.Dropout2),
        new DenseLayer("fc2", 10),
    ], trim);

    /// <summary>
    /// Three conv-BN-ReLU-pool blocks (32, 64, 128 channels, 3x3 "same" convolutions), dropout,
    /// Dense 256 with batch norm and ReLU, dropout, Dense 10.
    /// </summary>
    public static Model Bn3(TrainingConfig config) => new("bn3",
    [
        new Conv2dLayer("conv1", 32, 3, padding: 1),
        new BatchNormLayer("bn1", relu: true),
        new MaxPool2dLayer("pool1"),
        new Conv2dLayer("conv2", 64, 3, padding: 1),
        new BatchNormLayer("bn2", relu: true),
        new MaxPool2dLayer("pool2"),
        new Conv2dLayer("conv3", 128, 3, padding: 1),
        new BatchNormLayer("bn3", relu: true),
        new MaxPool2dLayer("pool3"),
        new DropoutLayer("dropout1", config.Dropout1),
        new DenseLayer("fc1", 256),
        new BatchNormLayer("bn4", relu: true),
        new DropoutLayer("dropout2", config.Dropout2),
        new DenseLayer("fc2", 10),
    ]);

    public static IReadOnlyList<ModelPreset> All { get; } =
    [
        new(Default, "the seed's CNN (Keras notebook): two valid 3x3 convolutions with max pooling, dropout, Dense 128; constant lr, no augmentation",
            c => Seed(c), c => c),
        new("bn3", "three padded 3x3 conv + batch-norm + ReLU + pool blocks (32, 64, 128), Dense 256 + batch norm; shifts and flips, cosine schedule, AdamW, best epoch",
            Bn3, c => c with
            {
                Epochs = 30, BatchSize = 128, LearningRate = 2e-3, LrSchedule = LearningRateSchedule.Cosine, WarmupEpochs = 1, WeightDecay = 0.01,
                Dropout1 = 0.2f, Dropout2 = 0.3f, AugmentShift = 2, AugmentFlip = true, EvaluateWeights = "best",
            }),
    ];

    public static ModelPreset? Find(string name) => All.FirstOrDefault(p => p.Name == name);

    /// <summary>The preset named by <paramref name="config"/>'s <see cref="TrainingConfig.Model"/>, built with its dropout rates.</summary>
    public static Model Create(TrainingConfig config) =>
        (Find(config.Model) ?? throw new ArgumentException($"unknown model {config.Model}")).Build(config);
}
