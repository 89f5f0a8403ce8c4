using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace FashionGpu.Bench.Benchmarks;

/// <summary>
/// In-process (no generated project to build, so it runs offline), few but sufficient
/// iterations: each invocation is milliseconds long and synchronises the device.
/// </summary>
public sealed class BenchConfig : ManualConfig
{
    public BenchConfig()
    {
        AddJob(Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithWarmupCount(2)
            .WithIterationCount(9)
            .WithLaunchCount(1)
            .WithUnrollFactor(1)
            .WithInvocationCount(8));
        AddColumn(new GflopsColumn());
        AddColumn(BenchmarkDotNet.Columns.StatisticColumn.Median);
        WithOptions(ConfigOptions.DisableOptimizationsValidator);
    }
}
