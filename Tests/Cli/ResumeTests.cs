using System.Diagnostics;
using FashionGpu.Tests.Training;
using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;

namespace FashionGpu.Tests.Cli;

/// <summary>Never lose a run: kills, Ctrl-C, divergence and damaged files.</summary>
public sealed class ResumeTests
{
    private static readonly string[] Small = ["--accelerator", "opencl", "--limit-train", "1600", "--limit-test", "200", "--batch-size", "32", "--seed", "11"];

    private static string[] Train(string outDir, int epochs) => ["train", .. Small, "--epochs", epochs.ToString(), "--out", outDir];

    /// <summary>metrics.csv without the timing columns (epoch_seconds, samples_per_second).</summary>
    private static string[] Metrics(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "metrics.csv")).Select(l => string.Join(',', l.Split(',').Where((_, i) => i is not (6 or 7)))).ToArray();

    [Test]
    public void AKilledRunResumedEndsWithTheSameWeightsAndMetricsAsAnUninterruptedOne()
    {
        RealDataset.Directory();
        string root = TempDir(), whole = Path.Combine(root, "whole"), killed = Path.Combine(root, "killed");
        var uninterrupted = Run(Train(whole, 3));
        Assert.That(uninterrupted.ExitCode, Is.EqualTo(0), uninterrupted.ToString());

        // Kill -9 in the middle of epoch 2: once epoch 1's checkpoint exists and a little later.
        using (var process = Process.Start(StartInfo(Train(killed, 3)))!)
        {
            var clock = Stopwatch.StartNew();
            string model = Path.Combine(killed, "model.safetensors");
            while (!File.Exists(model) && clock.Elapsed < TimeSpan.FromMinutes(3) && !process.HasExited) Thread.Sleep(20);
            Thread.Sleep(300);
            Assert.That(process.HasExited, Is.False, "the run ended before it could be killed mid-epoch; the test needs a slower run");
            process.Kill();
            process.WaitForExit();
        }
        Assert.That(Metrics(killed), Has.Length.EqualTo(2), "the header and epoch 1 only");

        var resumed = Run("train", "--resume", killed, "--accelerator", "opencl");
        Assert.That(resumed.ExitCode, Is.EqualTo(0), resumed.ToString());
        Assert.That(resumed.Out, Does.Contain($"Resuming {killed} after epoch 1 of 3"));
        Assert.That(Metrics(killed), Is.EqualTo(Metrics(whole)));
        Assert.That(File.ReadAllBytes(Path.Combine(killed, "model.safetensors")), Is.EqualTo(File.ReadAllBytes(Path.Combine(whole, "model.safetensors"))));
    }

    [Test]
    public void ResumeRepairsATornRowAndDropsRowsNewerThanTheCheckpoint()
    {
        string dir = Path.Combine(TempDir(), "run");
        Assert.That(Run(Train(dir, 1)).ExitCode, Is.EqualTo(0));
        string csv = Path.Combine(dir, "metrics.csv");
        var good = File.ReadAllLines(csv);
        // As if killed after writing epoch 2's row but before its checkpoint, then mid-way through a third row.
        File.AppendAllText(csv, good[1].Replace("1,", "2,") + "\n3,0.12");
        var r = Run("train", "--resume", dir, "--epochs", "2", "--accelerator", "opencl");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("dropped an incomplete last line").And.Contain("dropped 1 row(s) after epoch 1"));
        var lines = File.ReadAllLines(csv);
        Assert.That(lines.Skip(1).Select(l => l.Split(',')[0]), Is.EqualTo(new[] { "1", "2" }));
    }

    [Test]
    public void CtrlCStopsCleanlyAndSaysHowToResume()
    {
        RealDataset.Directory();
        string dir = Path.Combine(TempDir(), "run");
        using var process = Process.Start(StartInfo(Train(dir, 50)))!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(dir, "model.safetensors")) && clock.Elapsed < TimeSpan.FromMinutes(3)) Thread.Sleep(20);
        Process.Start("kill", ["-INT", process.Id.ToString()])!.WaitForExit();
        Assert.That(process.WaitForExit(TimeSpan.FromSeconds(30)), Is.True, "stops within seconds");
        Assert.That(process.ExitCode, Is.EqualTo(130), stdout.Result + stderr.Result);
        Assert.That(stderr.Result, Does.Contain($"Resume with: ./fashiongpu train --resume {dir}"));
        var rows = File.ReadAllLines(Path.Combine(dir, "metrics.csv"));
        Assert.That(rows.Length, Is.GreaterThanOrEqualTo(2));
        Assert.That(File.ReadAllText(Path.Combine(dir, "metrics.csv")), Does.EndWith("\n"), "no torn row");
    }

    [Test]
    public void ResumingAFinishedRunOrAnEmptyDirectoryIsAUsageError()
    {
        string dir = Path.Combine(TempDir(), "run");
        Assert.That(Run(Train(dir, 1)).ExitCode, Is.EqualTo(0));
        AssertUsageError(Run("train", "--resume", dir), "already completed 1 of 1 epochs", "--epochs");
        AssertUsageError(Run("train", "--resume", TempDir()), "holds no run to resume");
        AssertUsageError(Run("train", "--resume", dir, "--lr", "0.1"), "--lr cannot be combined with --resume");
    }

    [Test]
    public void DivergenceStopsAtTheStepAndKeepsNoBadCheckpoint()
    {
        string dir = Path.Combine(TempDir(), "run");
        var r = Run("train", "--accelerator", "opencl", "--limit-train", "640", "--epochs", "1", "--lr", "1e30", "--out", dir);
        Assert.That(r.ExitCode, Is.EqualTo(1), r.ToString());
        Assert.That(r.Err, Does.Match(@"the loss became (NaN|∞|-?Infinity|-∞) at epoch 1, step \d+ of 9; try a lower --lr"));
        Assert.That(File.Exists(Path.Combine(dir, "model.safetensors")), Is.False, "no checkpoint of diverged weights");
        Assert.That(File.ReadAllLines(Path.Combine(dir, "metrics.csv")), Has.Length.EqualTo(1), "no row for the diverged epoch");
    }
}
