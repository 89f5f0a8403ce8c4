using BenchmarkDotNet.Attributes;
using FashionGpu.Training;

namespace FashionGpu.Bench.Benchmarks;

/// <summary>
/// One whole training step as the trainer runs it (gather, forward, loss, backward, Adam,
/// one synchronisation) at batch 64, 128 and 256, on every backend present.
/// </summary>
[Config(typeof(BenchConfig))]
public class TrainingStepBenchmarks : IHasFlops
{
    private BackendSetup setup = null!;
    private StepBenchmark bench = null!;

    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "cpu";

    [Params(64, 128, 256)]
    public int Batch { get; set; }

    public static IEnumerable<string> Backends() => BackendSetup.Present();

    [GlobalSetup]
    public void Setup()
    {
        setup = new BackendSetup(Backend);
        bench = new StepBenchmark(setup.Kernels, Batch);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        bench.Dispose();
        setup.Dispose();
    }

    [Benchmark]
    public void TrainingStep() => bench.Step();

    public double Flops(string method) => StepBenchmark.FlopsPerStep(Batch);
}
