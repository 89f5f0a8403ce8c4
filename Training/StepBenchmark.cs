using System.Diagnostics;
using FashionGpu.Kernels;
using FashionGpu.Training.Model;
using FashionGpu.Training.Model.Layers;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Training;

/// <summary>
/// One whole training step as the trainer runs it (gather, forward, loss, backward, Adam, one
/// synchronisation) on 1,024 synthetic samples, for timing: used by <c>fashiongpu bench</c>
/// and the Bench project. Allocation and compilation happen in the constructor.
/// </summary>
public sealed class StepBenchmark : IDisposable
{
    private const int Samples = 1024;
    private readonly KernelLibrary k;
    private readonly Network network;
    private readonly MemoryBuffer1D<byte, Stride1D.Dense> pixels, classes;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> order;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> totals;
    private long step;

    public int Batch { get; }

    public StepBenchmark(KernelLibrary kernels, int batch, TrainingConfig? config = null)
    {
        if (batch > Samples) throw new ArgumentOutOfRangeException(nameof(batch), $"at most {Samples}");
        k = kernels;
        Batch = batch;
        var acc = kernels.Accelerator;
        network = new Network(kernels, Presets.Create(config ?? new TrainingConfig()), batch);
        network.Parameters.CopyFromCPU(network.Layout.Initial(1));
        var rng = new Random(3);
        var bytes = new byte[Samples * Network.Pixels];
        rng.NextBytes(bytes);
        pixels = acc.Allocate1D(bytes);
        classes = acc.Allocate1D(Enumerable.Range(0, Samples).Select(_ => (byte)rng.Next(10)).ToArray());
        order = acc.Allocate1D(Enumerable.Range(0, Samples).Select(_ => rng.Next(Samples)).ToArray());
        totals = acc.Allocate1D<float>(2);
        acc.Synchronize();
    }

    public void Step()
    {
        step++;
        int start = (int)(step * Batch % (Samples - Batch + 1));
        k.Ops.GatherBatch(Batch, Network.Pixels, pixels.View, classes.View, order.View.SubView(start, Batch), network.Images, network.Labels);
        network.TrainStep(new Pass(Batch, Training: true, step, Seed: 1), new AdamSettings().ForStep(step), 1f, 0, totals.View);
        k.Accelerator.Synchronize();
    }

    /// <summary>The median over <paramref name="rounds"/> rounds of the mean time of <paramref name="steps"/> steps, after one warm-up step.</summary>
    public double MedianMilliseconds(int rounds, int steps)
    {
        Step();
        var times = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            var clock = Stopwatch.StartNew();
            for (int s = 0; s < steps; s++) Step();
            times[r] = clock.Elapsed.TotalMilliseconds / steps;
        }
        Array.Sort(times);
        return rounds % 2 == 1 ? times[rounds / 2] : (times[rounds / 2 - 1] + times[rounds / 2]) / 2;
    }

    /// <summary>Forward plus both backward passes of every layer (the first needs no input gradient), 2 FLOPs per multiply-add.</summary>
    public static double FlopsPerStep(int batch, TrainingConfig? config = null) => 2.0 * batch * Presets.Create(config ?? new TrainingConfig()).TrainingMultiplyAdds;

    public void Dispose()
    {
        k.Accelerator.Synchronize();
        network.Dispose();
        pixels.Dispose(); classes.Dispose(); order.Dispose(); totals.Dispose();
    }
}
