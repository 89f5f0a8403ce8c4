using System.Diagnostics;
using FashionGpu.Tests.Kernels;
using FashionGpu.Tests.Training;
using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;
using static FashionGpu.Tests.Cli.Runs;

namespace FashionGpu.Tests.Cli;

/// <summary>
/// Never lose a run: killed (SIGKILL) or interrupted (Ctrl-C, SIGTERM) at every kind of point,
/// then resumed with no flag but --resume, a run ends byte for byte as an uninterrupted one, on
/// every backend present. The exact points come from FASHIONGPU_TEST_HOLD (see TestHold).
/// </summary>
public sealed class ResumeTests
{
    public static IEnumerable<string> AllBackends => Backends.Names;

    private static string NewRun() => Path.Combine(TempDir(), "run");

    [TestCaseSource(nameof(AllBackends))]
    public void KilledAtARandomMomentOfEpochTwo(string backend)
    {
        string whole = Reference(backend, 3), killed = NewRun();
        using (var process = Process.Start(StartInfo(Args(backend, killed, 3)))!)
        {
            var clock = Stopwatch.StartNew();
            string model = Path.Combine(killed, "model.safetensors");
            while (!File.Exists(model) && clock.Elapsed < TimeSpan.FromMinutes(3) && !process.HasExited) Thread.Sleep(20);
            // A moment inside epoch 2: a random tenth to four tenths of epoch 1's time after its
            // checkpoint (a fixed delay outlasted the whole epoch once the kernels got faster).
            double epochSeconds = double.Parse(File.ReadAllLines(Path.Combine(killed, "metrics.csv"))[1].Split(',')[6], System.Globalization.CultureInfo.InvariantCulture);
            Thread.Sleep(TimeSpan.FromSeconds(epochSeconds * (0.1 + 0.3 * Random.Shared.NextDouble())));
            Assert.That(process.HasExited, Is.False, "the run ended before it could be killed mid-epoch; the test needs a slower run");
            process.Kill();
            process.WaitForExit();
        }
        Assert.That(Metrics(killed), Has.Length.EqualTo(2), "the header and epoch 1 only");
        var resumed = Resume(killed);
        Assert.That(resumed.Out, Does.Contain($"Resuming {killed} after epoch 1 of 3"));
        Assert.That(resumed.Out, Does.Contain($"Accelerator: {backend}:0"), "the run's own device, not auto's choice");
        AssertSameRun(killed, whole);
    }

    [TestCase("cpu", "step:1:3", "from the start")]
    [TestCase("opencl", "step:1:3", "from the start")]
    [TestCase("cpu", "row:1", "from the start")]
    [TestCase("opencl", "row:1", "from the start")]
    [TestCase("cpu", "row:2", "after epoch 1 of 3")]
    [TestCase("opencl", "row:2", "after epoch 1 of 3")]
    [TestCase("cpu", "step:2:5", "after epoch 1 of 3")]
    [TestCase("opencl", "step:2:5", "after epoch 1 of 3")]
    public void KilledAtAnExactPoint(string backend, string point, string resumes)
    {
        string whole = Reference(backend, 3), killed = NewRun();
        using (var run = new Held(point, Args(backend, killed, 3))) run.Kill();
        var resumed = Resume(killed);
        Assert.That(resumed.Out, Does.Contain($"Resuming {killed} {resumes}"));
        AssertSameRun(killed, whole);
    }

    [TestCase("cpu", SigInt, "step:1:4")]
    [TestCase("opencl", SigInt, "step:1:4")]
    [TestCase("cpu", SigTerm, "step:2:4")]
    [TestCase("opencl", SigTerm, "step:2:4")]
    [TestCase("opencl", SigInt, "row:2")]
    public void InterruptedStopsCleanlySaysTheTruthAndResumesExactly(string backend, int signal, string point)
    {
        string whole = Reference(backend, 3), dir = NewRun();
        CliResult stopped;
        using (var run = new Held(point, Args(backend, dir, 3))) stopped = run.Signal(signal);
        Assert.That(stopped.ExitCode, Is.EqualTo(130), stopped.ToString());
        // Held after epoch 2's row, the checkpoint is still written before the run stops.
        int completed = point == "row:2" ? 2 : int.Parse(point.Split(':')[1]) - 1;
        Assert.That(stopped.Err, Does.Contain($"Resume with: ./fashiongpu train --resume {dir}"));
        Assert.That(stopped.Err, Does.Contain(completed == 0 ? "before any epoch was completed" : $"holds epochs 1-{completed} of 3"), stopped.ToString());
        Assert.That(Metrics(dir), Has.Length.EqualTo(1 + completed), "exactly the completed epochs' rows");
        Assert.That(File.ReadAllText(Path.Combine(dir, "metrics.csv")), Does.EndWith("\n"), "no torn row");
        AssertNoTemporaryFiles(dir);
        Resume(dir);
        AssertSameRun(dir, whole);
    }

    [Test]
    public void ResumingOnAnotherDeviceSaysItWillNotBeBitIdentical()
    {
        Backends.Require("opencl");
        string dir = NewRun();
        using (var run = new Held("row:2", Args("cpu", dir, 2))) run.Kill();
        var r = Run("train", "--resume", dir, "--accelerator", "opencl");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("Note: the run was on cpu:0 and continues on opencl:0, so it will not be bit-identical"));
        Assert.That(Metrics(dir).Skip(1).Select(l => l.Split(',')[^1]), Is.EqualTo(new[] { "cpu:0", "opencl:0" }));
    }

    [Test]
    public void ResumeRepairsATornRowAndDropsRowsNewerThanTheCheckpoint()
    {
        string dir = NewRun();
        Assert.That(Run(Args(Backends.Fastest, dir, 1)).ExitCode, Is.EqualTo(0));
        string csv = Path.Combine(dir, "metrics.csv");
        var good = File.ReadAllLines(csv);
        // As an older version could leave it: epoch 2's row without its checkpoint, then half a third row.
        File.AppendAllText(csv, good[1].Replace("1,", "2,") + "\n3,0.12");
        var r = Run("train", "--resume", dir, "--epochs", "2");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("dropped an incomplete last line").And.Contain("dropped 1 row(s) after epoch 1"));
        Assert.That(File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')[0]), Is.EqualTo(new[] { "1", "2" }));
    }

    [Test]
    public void ResumingAFinishedRunOrAnEmptyDirectoryIsAUsageError()
    {
        string dir = NewRun();
        Assert.That(Run(Args(Backends.Fastest, dir, 1)).ExitCode, Is.EqualTo(0));
        AssertUsageError(Run("train", "--resume", dir), "already completed 1 of 1 epochs", "--epochs");
        AssertUsageError(Run("train", "--resume", TempDir()), "holds no run to resume");
        AssertUsageError(Run("train", "--resume", dir, "--lr", "0.1"), "--lr cannot be combined with --resume");
    }

    [Test]
    public void SettingsReadBackOnResumeAreCheckedLikeTheFlags()
    {
        string dir = NewRun();
        using (var run = new Held("step:1:2", Args(Backends.Fastest, dir, 2))) run.Kill();
        string settings = Path.Combine(dir, "run.json");
        File.WriteAllText(settings, File.ReadAllText(settings).Replace("\"learning_rate\": 0.001", "\"learning_rate\": 1e-50"));
        AssertUsageError(Run("train", "--resume", dir), settings, "a saved setting is invalid: --lr 1e-50 is 0 in float32");
        File.WriteAllText(settings, "{ not json");
        AssertUsageError(Run("train", "--resume", dir), settings, "not a valid run file");
    }

    [Test]
    public void DivergenceStopsAtTheStepAndKeepsNoBadCheckpoint()
    {
        string dir = NewRun();
        var r = Run("train", "--accelerator", Backends.Fastest, "--limit-train", "640", "--epochs", "1", "--lr", "1e30", "--out", dir);
        Assert.That(r.ExitCode, Is.EqualTo(1), r.ToString());
        Assert.That(r.Err, Does.Match(@"the loss became (NaN|∞|-?Infinity|-∞) at epoch 1, step \d+ of 9; try a lower --lr"));
        Assert.That(File.Exists(Path.Combine(dir, "model.safetensors")), Is.False, "no checkpoint of diverged weights");
        Assert.That(File.ReadAllLines(Path.Combine(dir, "metrics.csv")), Has.Length.EqualTo(1), "no row for the diverged epoch");
    }
}
