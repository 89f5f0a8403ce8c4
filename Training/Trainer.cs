using System.Diagnostics;
using FashionGpu.Kernels;
using FashionGpu.Training.Model;
using FashionGpu.Training.Model.Layers;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Training;

/// <summary>What one epoch of training measured.</summary>
public sealed record EpochResult(int Epoch, double TrainLoss, double TrainAccuracy, double? ValLoss, double? ValAccuracy,
    double TrainSeconds, double EpochSeconds, int TrainSamples)
{
    public double SamplesPerSecond => TrainSamples / TrainSeconds;
}

/// <summary>
/// Progress inside an epoch: steps done, steps in the epoch, the running mean loss and accuracy,
/// the samples trained so far in the epoch and the seconds they took.
/// </summary>
public readonly record struct StepProgress(int Step, int Steps, double Loss, double Accuracy, int Samples, double Seconds);

/// <summary>
/// Trains the network on device-resident data. One step: gather the batch by index, forward,
/// loss and its gradient, backward, Adam; the step's loss sum and correct count land in the
/// step's own slot of a device buffer, read once per epoch (or when progress is reported).
/// Everything is a pure function of the seed, so a run repeats exactly on the same backend.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly KernelLibrary k;
    private readonly Accelerator accelerator;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> trainOrder;
    private readonly Evaluator evaluator;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> totals;
    private readonly int[] order;
    private readonly float[] stepTotals = new float[2];
    private readonly uint augmentSeed;

    public TrainingConfig Config { get; }
    public Network Network { get; }
    public DeviceDataset Train { get; }
    /// <summary>Training samples actually trained on (the validation tail excluded).</summary>
    public int TrainCount { get; }
    /// <summary>Adam steps taken so far (the Adam time step t of the last update).</summary>
    public long Step { get; private set; }
    public int StepsPerEpoch => (TrainCount + Config.BatchSize - 1) / Config.BatchSize;

    public Trainer(KernelLibrary kernels, TrainingConfig config, DeviceDataset train, int trainCount, int maxEvalCount)
    {
        k = kernels;
        accelerator = kernels.Accelerator;
        Config = config;
        Train = train;
        TrainCount = trainCount;
        Network = new Network(kernels, Presets.Create(config), config.BatchSize);
        Network.Parameters.CopyFromCPU(Network.Layout.Initial(SplitMix64.Derive(config.Seed, 1)));
        order = new int[trainCount];
        trainOrder = accelerator.Allocate1D<int>(Math.Max(1, trainCount));
        totals = accelerator.Allocate1D<float>(2 * Math.Max(1, StepsPerEpoch));
        evaluator = new Evaluator(kernels, Network, Math.Max(maxEvalCount, train.Count));
        augmentSeed = (uint)SplitMix64.Derive(config.Seed, 4);
    }

    /// <summary>The order samples are visited in during <paramref name="epoch"/> (1-based): a shuffle derived from (seed, epoch) alone.</summary>
    public static int[] EpochOrder(ulong seed, int epoch, int count)
    {
        var order = Enumerable.Range(0, count).ToArray();
        new SplitMix64(SplitMix64.Derive(seed, 3, (ulong)epoch)).Shuffle(order);
        return order;
    }

    /// <summary>Trains one epoch (1-based number) over the training samples in a fresh shuffled order.</summary>
    /// <param name="profiler">When given, every layer of every step is timed into it.</param>
    public (double Loss, double Accuracy, double Seconds) TrainEpoch(int epoch, Action<StepProgress>? progress = null, CancellationToken cancel = default,
        StepProfiler? profiler = null)
    {
        Network.Profiler = profiler;
        try
        {
            return RunEpoch(epoch, progress, cancel, profiler);
        }
        finally
        {
            Network.Profiler = null;
        }
    }

    private (double Loss, double Accuracy, double Seconds) RunEpoch(int epoch, Action<StepProgress>? progress, CancellationToken cancel, StepProfiler? profiler)
    {
        var clock = Stopwatch.StartNew();
        EpochOrder(Config.Seed, epoch, TrainCount).CopyTo(order, 0);
        trainOrder.View.SubView(0, TrainCount).CopyFromCPU(order);
        int steps = StepsPerEpoch, batchSize = Config.BatchSize;
        double lr = LearningRateSchedule.Rate(Config, epoch);
        var adam = new AdamSettings((float)lr);
        float decay = Config.WeightDecay > 0 ? (float)(1 - lr * Config.WeightDecay) : 1f;
        var augmentation = new Augmentation(augmentSeed, (uint)epoch, Config.AugmentShift, Config.AugmentFlip ? 1 : 0);
        double runningLoss = 0, runningCorrect = 0;
        int reportedSteps = 0, seen = 0;
        for (int s = 0; s < steps; s++)
        {
            cancel.ThrowIfCancellationRequested();
            int start = s * batchSize, batch = Math.Min(batchSize, TrainCount - start);
            Step++;
            profiler?.Start();
            var indices = trainOrder.View.SubView(start, batch);
            if (augmentation.Enabled) k.Augment.Gather(batch, ParameterLayout.ImageSize, augmentation, Train.Pixels, Train.Labels, indices, Network.Images, Network.Labels);
            else k.Ops.GatherBatch(batch, Train.PixelsPerImage, Train.Pixels, Train.Labels, indices, Network.Images, Network.Labels);
            profiler?.Lap("gather batch", Phase.Data);
            Network.TrainStep(new Pass(batch, Training: true, Step, Config.Seed), adam.ForStep(Step), decay, s, totals.View);
            // One synchronisation per step: launches queue up, and the host never runs far ahead.
            // The step's loss sum (8 bytes) comes back to stop at the first non-finite loss.
            accelerator.Synchronize();
            totals.View.SubView(2 * s, 2).CopyToCPU(stepTotals);
            if (!float.IsFinite(stepTotals[0]))
                throw new TrainingDivergedException(
                    $"the loss became {stepTotals[0]} at epoch {epoch}, step {s + 1} of {steps}; try a lower --lr (now {Config.LearningRate.ToString(System.Globalization.CultureInfo.InvariantCulture)})");
            seen += batch;
            if (TestHold.Enabled) TestHold.At($"step:{epoch}:{s + 1}", cancel);
            if (progress is not null && (s + 1 == steps || clock.ElapsedMilliseconds / 250 > reportedSteps))
            {
                reportedSteps = (int)(clock.ElapsedMilliseconds / 250);
                var (l, c) = SumSlots(0, s + 1);
                runningLoss = l; runningCorrect = c;
                progress(new StepProgress(s + 1, steps, runningLoss / seen, runningCorrect / seen, seen, clock.Elapsed.TotalSeconds));
            }
        }
        var (loss, correct) = SumSlots(0, steps);
        return (loss / TrainCount, correct / TrainCount, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Loss and accuracy without dropout over samples [first, first + count) of <paramref name="data"/>.</summary>
    public EvaluationResult Evaluate(DeviceDataset data, int first, int count, byte[] hostLabels) => evaluator.Evaluate(data, first, count, hostLabels);

    private (double Loss, double Correct) SumSlots(int from, int to) => Evaluator.SumSlots(totals.View, from, to);

    /// <summary>Parameters, buffers and Adam moments as host arrays (for checkpoints).</summary>
    public (float[] Parameters, float[] Buffers, float[] M, float[] V) Download()
    {
        accelerator.Synchronize();
        var buffers = Network.Model.Buffers.Count > 0 ? Network.Buffers.GetAsArray() : [];
        return (Network.Parameters.GetAsArray(), buffers, Network.AdamM.GetAsArray(), Network.AdamV.GetAsArray());
    }

    /// <summary>Replaces the parameters and buffers (and, when given, Adam's moments and step) on the device.</summary>
    public void Upload(float[] parameters, float[] buffers, float[]? m = null, float[]? v = null, long? step = null)
    {
        Network.Parameters.CopyFromCPU(parameters);
        if (buffers.Length > 0) Network.Buffers.CopyFromCPU(buffers);
        if (m is not null) Network.AdamM.CopyFromCPU(m);
        if (v is not null) Network.AdamV.CopyFromCPU(v);
        if (step is not null) Step = step.Value;
        accelerator.Synchronize();
    }

    public void Dispose()
    {
        accelerator.Synchronize();
        Network.Dispose();
        trainOrder.Dispose();
        evaluator.Dispose();
        totals.Dispose();
    }
}
