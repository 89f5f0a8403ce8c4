using BenchmarkDotNet.Attributes;
using FashionGpu.Kernels;
using FashionGpu.Training.Model;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Bench.Benchmarks;

/// <summary>
/// One whole training step as the trainer runs it (gather, forward, loss, backward, Adam,
/// one synchronisation) at batch 64, 128 and 256, on every backend present.
/// </summary>
[Config(typeof(BenchConfig))]
public class TrainingStepBenchmarks : IHasFlops
{
    private BackendSetup setup = null!;
    private Network network = null!;
    private MemoryBuffer1D<byte, Stride1D.Dense> pixels = null!, classes = null!;
    private MemoryBuffer1D<int, Stride1D.Dense> order = null!;
    private MemoryBuffer1D<float, Stride1D.Dense> totals = null!;
    private long step;

    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "cpu";

    [Params(64, 128, 256)]
    public int Batch { get; set; }

    public static IEnumerable<string> Backends() => BackendSetup.Present();

    [GlobalSetup]
    public void Setup()
    {
        setup = new BackendSetup(Backend);
        network = new Network(setup.Kernels, Batch, 0.25f, 0.5f);
        network.Parameters.CopyFromCPU(ParameterLayout.Seed.GlorotUniform(1));
        setup.Kernels.Ops.Fill(ParameterLayout.Seed.Count, 0f, network.AdamM);
        setup.Kernels.Ops.Fill(ParameterLayout.Seed.Count, 0f, network.AdamV);
        var rng = new Random(3);
        const int samples = 1024;
        var bytes = new byte[samples * 784];
        rng.NextBytes(bytes);
        pixels = setup.Accelerator.Allocate1D(bytes);
        classes = setup.Accelerator.Allocate1D(Enumerable.Range(0, samples).Select(_ => (byte)rng.Next(10)).ToArray());
        order = setup.Accelerator.Allocate1D(Enumerable.Range(0, samples).Select(_ => rng.Next(samples)).ToArray());
        totals = setup.Accelerator.Allocate1D<float>(2);
        setup.Accelerator.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        network.Dispose();
        pixels.Dispose(); classes.Dispose(); order.Dispose(); totals.Dispose();
        setup.Dispose();
    }

    [Benchmark]
    public void TrainingStep()
    {
        step++;
        var m1 = new DropoutMask(1, (uint)step, 0.25f);
        var m2 = new DropoutMask(2, (uint)step, 0.5f);
        int start = (int)(step * Batch % (1024 - Batch));
        setup.Kernels.Ops.GatherBatch(Batch, 784, pixels.View, classes.View, order.View.SubView(start, Batch), network.Images, network.Labels);
        network.TrainStep(Batch, m1, m2, new AdamSettings().ForStep(step), slot: 0, totals.View);
        setup.Accelerator.Synchronize();
    }

    /// <summary>Forward plus both backward passes of every layer (conv1 needs no input gradient), 2 FLOPs per multiply-add.</summary>
    public double Flops(string method) =>
        2.0 * (2 * Network.Conv1Shape(Batch).MultiplyAdds
               + 3 * (Network.Conv2Shape(Batch).MultiplyAdds + Network.Fc1Shape(Batch).MultiplyAdds + Network.Fc2Shape(Batch).MultiplyAdds));
}
