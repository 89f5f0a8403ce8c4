using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace FashionGpu.Bench.Benchmarks;

/// <summary>Marks a benchmark with the floating-point operations one invocation performs, for <see cref="GflopsColumn"/>.</summary>
public interface IHasFlops
{
    /// <summary>FLOPs of the benchmark method <paramref name="method"/> (2 per multiply-add).</summary>
    double Flops(string method);
}

/// <summary>Achieved GFLOP/s: the benchmark's FLOPs over its mean time.</summary>
public sealed class GflopsColumn : IColumn
{
    public string Id => nameof(GflopsColumn);
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Achieved GFLOP/s (2 FLOPs per multiply-add) at the median time";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } stats) return "-";
        var instance = (IHasFlops)Activator.CreateInstance(benchmarkCase.Descriptor.Type)!;
        foreach (var p in benchmarkCase.Parameters.Items)
            benchmarkCase.Descriptor.Type.GetProperty(p.Name)?.SetValue(instance, p.Value);
        double flops = instance.Flops(benchmarkCase.Descriptor.WorkloadMethod.Name);
        return flops <= 0 ? "-" : (flops / stats.Median).ToString("0.00"); // FLOP per ns = GFLOP/s
    }

    public override string ToString() => ColumnName;
}
