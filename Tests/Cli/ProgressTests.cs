using System.Diagnostics;
using FashionGpu.Cli.Commands;
using FashionGpu.Training;
using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;

namespace FashionGpu.Tests.Cli;

/// <summary>The progress line a terminal sees during an epoch: samples/s and the time left.</summary>
public sealed class ProgressTests
{
    [Test]
    public void TheLineGivesTheRateAndTheTimeLeftInTheEpochAndTheRun()
    {
        // 100 of 844 steps (6,400 samples) in 10 s: 0.1 s a step, 744 left; 9 epochs after this one.
        var p = new StepProgress(100, 844, 0.5, 0.8, 6400, 10.0);
        string first = ConsoleTrainingObserver.ProgressLine(1, 10, p, lastEpochSeconds: null);
        Assert.That(first, Does.Contain("100/844").And.Contain("640 samples/s").And.Contain("1:14 left in epoch, 13:54 in run"));
        // From the second epoch on, the rest of the run is counted in whole epochs as long as the last one.
        string third = ConsoleTrainingObserver.ProgressLine(3, 10, p, lastEpochSeconds: 90);
        Assert.That(third, Does.Contain("1:14 left in epoch, 11:44 in run"), "74 s + 7 x 90 s");
        Assert.That(ConsoleTrainingObserver.Duration(3725), Is.EqualTo("1:02:05"));
        Assert.That(ConsoleTrainingObserver.Duration(59.6), Is.EqualTo("1:00"));
    }

    /// <summary>Through a pseudo-terminal (util-linux's script), as a user at a terminal sees it.</summary>
    [Test]
    public void ATerminalSeesTheProgressLine()
    {
        Training.RealDataset.Directory();
        string dir = Path.Combine(TempDir(), "run");
        string command = $"dotnet '{Dll}' train -a cpu --limit-train 640 --limit-test 50 --epochs 1 --batch-size 32 --out '{dir}'";
        var info = new ProcessStartInfo("script", ["-qefc", command, "/dev/null"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.EqualTo(0), output);
        Assert.That(output, Does.Match(@"epoch 1/1 \[#+\.*\] \d+/18 loss \d\.\d{4} acc \d+\.\d\d%  \d+ samples/s  \d+:\d\d left in epoch, \d+:\d\d in run"));
        Assert.That(output, Does.Contain("epoch 1/1  loss"), "the epoch's line replaces the progress line");
    }
}
