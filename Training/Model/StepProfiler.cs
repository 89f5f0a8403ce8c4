using System.Diagnostics;
using ILGPU.Runtime;

namespace FashionGpu.Training.Model;

/// <summary>Which part of a training step a layer's time belongs to.</summary>
public enum Phase { Data, Forward, Backward, Update }

/// <summary>One row of the profile: a layer in one phase, its share of the step and its speed.</summary>
public sealed record ProfileRow(string Layer, Phase Phase, double MillisecondsPerStep, double PercentOfStep, double? Gflops);

/// <summary>
/// Times a training step layer by layer: after each layer the device is synchronised and the
/// time since the previous mark is charged to that layer. The synchronisations make a profiled
/// step a little slower than an unprofiled one; the shares stay representative.
/// </summary>
public sealed class StepProfiler(Accelerator accelerator)
{
    private readonly Stopwatch clock = new();
    private readonly Dictionary<(string Layer, Phase Phase), (double Seconds, double MultiplyAdds)> totals = [];
    private readonly List<(string, Phase)> order = [];
    private int steps;

    /// <summary>Begins a step: waits for earlier work so it is not charged to the first layer.</summary>
    public void Start()
    {
        accelerator.Synchronize();
        clock.Restart();
        steps++;
    }

    /// <summary>Charges the time since the last mark to <paramref name="layer"/>.</summary>
    public void Lap(string layer, Phase phase, long multiplyAdds = 0)
    {
        accelerator.Synchronize();
        double seconds = clock.Elapsed.TotalSeconds;
        clock.Restart();
        var key = (layer, phase);
        if (!totals.TryGetValue(key, out var t)) order.Add(key);
        totals[key] = (t.Seconds + seconds, t.MultiplyAdds + multiplyAdds);
    }

    public IReadOnlyList<ProfileRow> Rows()
    {
        double all = totals.Values.Sum(t => t.Seconds);
        return order.Select(key =>
        {
            var (seconds, macs) = totals[key];
            return new ProfileRow(key.Item1, key.Item2, 1000 * seconds / Math.Max(1, steps), 100 * seconds / all,
                macs > 0 ? 2 * macs / seconds / 1e9 : null);
        }).ToList();
    }
}
