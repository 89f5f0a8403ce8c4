namespace FashionGpu.Training;

/// <summary>Everything that decides what a training run computes. Defaults follow the seed (Keras).</summary>
public sealed record TrainingConfig
{
    /// <summary>The model preset (<see cref="Model.Presets"/>); its recipe gives the defaults of the flags not given.</summary>
    public string Model { get; init; } = Training.Model.Presets.Default;
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Drives the initial weights, every epoch's shuffle and the dropout masks.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Fraction of the training set held out for validation, taken from its end before shuffling (Keras' validation_split).</summary>
    public double ValSplit { get; init; } = 0.1;
    /// <summary>Drop probability after the convolutions (Dropout 0.25 in the seed).</summary>
    public float Dropout1 { get; init; } = 0.25f;
    /// <summary>Drop probability after Dense 128 (Dropout 0.5 in the seed).</summary>
    public float Dropout2 { get; init; } = 0.5f;
    /// <summary>Use only the first N training samples (before the validation split); null for all.</summary>
    public int? LimitTrain { get; init; }
    /// <summary>Use only the first N test samples; null for all.</summary>
    public int? LimitTest { get; init; }
    /// <summary>How the learning rate changes from epoch to epoch (<see cref="LearningRateSchedule"/>).</summary>
    public string LrSchedule { get; init; } = LearningRateSchedule.Constant;
    /// <summary>Epochs of linear warm-up at the start (for onecycle: of its rise; 0 there means 30% of the epochs).</summary>
    public int WarmupEpochs { get; init; }
    /// <summary>Decoupled weight decay (AdamW) of the weights; biases and normalization parameters are not decayed.</summary>
    public double WeightDecay { get; init; }
    /// <summary>Largest random shift in pixels of the training images (0: none).</summary>
    public int AugmentShift { get; init; }
    /// <summary>Random horizontal flips of the training images.</summary>
    public bool AugmentFlip { get; init; }
    /// <summary>Stop when validation accuracy has not improved for this many epochs; null to train every epoch.</summary>
    public int? EarlyStop { get; init; }
    /// <summary>Which weights the final test evaluation uses: "last" or "best" (best validation accuracy).</summary>
    public string EvaluateWeights { get; init; } = "last";
    /// <summary>safetensors file whose weights replace the Glorot initialisation.</summary>
    public string? InitFrom { get; init; }

    /// <summary>
    /// How the first <see cref="LimitTrain"/> of <paramref name="available"/> training samples
    /// divide: the first Train are trained on, the last Validation held out.
    /// </summary>
    public (int Train, int Validation) Split(int available)
    {
        int used = Math.Min(LimitTrain ?? int.MaxValue, available);
        int validation = (int)Math.Floor(used * ValSplit);
        return (used - validation, validation);
    }
}
