using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;

namespace FashionGpu.Tests.Cli;

/// <summary><c>train --profile</c>: where a step's time goes, per layer and direction.</summary>
public sealed class ProfileTests
{
    [Test]
    public void ProfilePrintsEveryLayerWithItsShareOfTheStep()
    {
        Training.RealDataset.Directory();
        string dir = Path.Combine(TempDir(), "run");
        var r = Run("train", "--accelerator", "cpu", "--limit-train", "400", "--limit-test", "50", "--epochs", "1", "--profile", "--out", dir);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("Time per layer over the first epoch's steps"));
        foreach (var layer in new[] { "gather batch", "conv1 + relu", "conv2 + relu", "fc1 + relu", "softmax + cross-entropy", "pool1 + relu", "adam" })
            Assert.That(r.Out, Does.Contain(layer));
        var rows = File.ReadAllLines(Path.Combine(dir, "profile.csv"));
        Assert.That(rows[0], Is.EqualTo("layer,phase,ms_per_step,percent_of_step,gflops"));
        var ms = rows.Skip(1).Select(l => double.Parse(l.Split(',')[2])).ToList();
        Assert.That(ms, Is.All.GreaterThan(0), "every layer was timed");
        // Against a clock the profiler does not own: the epoch's training time in metrics.csv
        // (400 samples less a 10% validation split, in steps of 64). The layers cover the step, so their
        // times add up to nearly all of it (only the loop and the per-step synchronisation are outside), and never to more.
        var epoch = File.ReadAllLines(Path.Combine(dir, "metrics.csv"))[1].Split(',');
        double stepMs = 1000 * 360 / double.Parse(epoch[7]) / 6;
        Assert.That(ms.Sum(), Is.InRange(0.8 * stepMs, 1.0 * stepMs), $"layers {ms.Sum():0.0} ms against a step of {stepMs:0.0} ms");
        Assert.That(rows.Skip(1).Select(l => l.Split(',')[1]).Distinct(), Is.EquivalentTo(new[] { "data", "forward", "backward", "update" }));
        var conv2Forward = rows.Single(l => l.StartsWith("conv2 + relu,forward")).Split(',');
        Assert.That(double.Parse(conv2Forward[4]), Is.GreaterThan(0), "GFLOP/s of a GEMM-shaped layer");
    }
}
