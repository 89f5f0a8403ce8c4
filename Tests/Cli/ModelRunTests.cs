using System.Globalization;
using System.Text.Json;
using FashionGpu.Tests.Kernels;
using FashionGpu.Tests.Training;
using FashionGpu.Training.Checkpoints;
using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;
using static FashionGpu.Tests.Cli.Runs;

namespace FashionGpu.Tests.Cli;

/// <summary>Presets, the training recipe flags, keeping the best epoch and early stopping, through the CLI.</summary>
public sealed class ModelRunTests
{
    /// <summary>A bn3 run small enough for the CPU accelerator: 288 training samples in 9 steps of 32, 32 for validation; its recipe (augmentation, cosine, AdamW) otherwise.</summary>
    private static string[] Bn3Args(string backend, string outDir, int epochs) =>
        ["train", "--model", "bn3", "--accelerator", backend, "--limit-train", "320", "--limit-test", "100", "--batch-size", "32", "--seed", "3", "--epochs", epochs.ToString(CultureInfo.InvariantCulture), "--out", outDir];

    private static JsonElement Summary(string dir) => JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))).RootElement;

    private static double[] ValAccuracies(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "metrics.csv")).Skip(1).Select(l => double.Parse(l.Split(',')[4], CultureInfo.InvariantCulture)).ToArray();

    [TestCase("cpu", "row:2")]
    [TestCase("opencl", "row:2")]
    [TestCase("opencl", "step:2:4")]
    public void Bn3KilledAndResumedEndsByteForByteAsAnUninterruptedRun(string backend, string point)
    {
        RealDataset.Directory();
        Backends.Require(backend);
        string whole = Path.Combine(TempDir(), "whole"), killed = Path.Combine(TempDir(), "killed");
        var r = Run(Bn3Args(backend, whole, 3));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        using (var run = new Held(point, Bn3Args(backend, killed, 3))) run.Kill();
        Resume(killed);
        // The checkpoints carry the batch-norm statistics, best.safetensors the best epoch: all byte for byte.
        AssertSameRun(killed, whole);
        var (_, state) = ModelCheckpoint.Load(Path.Combine(whole, "model.safetensors"));
        var names = SafeTensors.Read(Path.Combine(whole, "model.safetensors")).Tensors.ToDictionary(t => t.Name);
        Assert.That(names["bn1.num_batches_tracked"].Data, Is.EqualTo(new[] { 27f }), "9 steps x 3 epochs");
        Assert.That(names["bn2.running_var"].Data, Is.Not.All.EqualTo(1f), "the running statistics moved");
        Assert.That(state.Buffers, Has.Length.EqualTo(964));
    }

    [Test]
    public void BestCheckpointHoldsTheWeightsOfTheBestValidationEpoch()
    {
        RealDataset.Directory();
        string backend = Backends.Fastest, run = Path.Combine(TempDir(), "best");
        // A high learning rate, so validation accuracy stalls and falls back (on OpenCL here: 50, 54, 63, 63, 62, 62%).
        string[] args = ["train", "-a", backend, "--limit-train", "1000", "--limit-test", "200", "--batch-size", "50", "--seed", "4", "--lr", "0.03"];
        var r = Run([.. args, "--epochs", "6", "--evaluate", "best", "--out", run]);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var val = ValAccuracies(run);
        int best = Array.IndexOf(val, val.Max()) + 1;
        Assert.That(best, Is.LessThan(6), "the test needs a run whose last epoch is not its best");
        Assert.That(Summary(run).GetProperty("best_epoch").GetInt32(), Is.EqualTo(best));
        Assert.That(Summary(run).GetProperty("evaluated_weights").GetString(), Is.EqualTo("best"));
        Assert.That(r.Out, Does.Contain($"with the best weights, epoch {best}"));
        // The same run stopped after that epoch ends with exactly those weights.
        string shorter = Path.Combine(TempDir(), "shorter");
        Assert.That(Run([.. args, "--epochs", best.ToString(CultureInfo.InvariantCulture), "--out", shorter]).ExitCode, Is.EqualTo(0));
        var (_, bestState) = ModelCheckpoint.Load(Path.Combine(run, "best.safetensors"));
        var (_, shorterState) = ModelCheckpoint.Load(Path.Combine(shorter, "model.safetensors"));
        Assert.That(bestState.Parameters, Is.EqualTo(shorterState.Parameters));
        // And the test result of --evaluate best is that checkpoint's.
        var e = Run("evaluate", "--model", Path.Combine(run, "best.safetensors"), "-a", backend, "--limit-test", "200");
        Assert.That(e.Out, Does.Contain($"({Summary(run).GetProperty("test_correct").GetInt32()} of 200)"));
    }

    [Test]
    public void EarlyStoppingStopsAtTheFirstEpochWithoutImprovementForPatienceEpochs()
    {
        RealDataset.Directory();
        string run = Path.Combine(TempDir(), "early");
        var r = Run("train", "-a", Backends.Fastest, "--limit-train", "1000", "--limit-test", "100", "--batch-size", "50", "--seed", "4", "--lr", "0.03",
            "--epochs", "12", "--early-stop", "2", "--out", run);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var val = ValAccuracies(run);
        int n = val.Length;
        Assert.That(n, Is.LessThan(12), "the run must have stopped early for this test to mean anything");
        int BestUpTo(int epoch) => Array.IndexOf(val, val.Take(epoch).Max()) + 1;
        // The documented rule: stop before epoch e when e - 1 - (best epoch so far) >= patience.
        for (int e = 2; e <= n; e++) Assert.That(e - 1 - BestUpTo(e - 1), Is.LessThan(2), $"should have stopped before epoch {e}");
        Assert.That(n - BestUpTo(n), Is.EqualTo(2));
        Assert.That(r.Out, Does.Contain($"Stopped early after epoch {n}: validation accuracy has not improved since epoch {BestUpTo(n)}"));
        Assert.That(Summary(run).GetProperty("stopped_early_after_epoch").GetInt32(), Is.EqualTo(n));
    }

    [Test]
    public void SummaryPrintsEveryLayerWithShapesParametersAndTotals()
    {
        var seed = Run("summary");
        Assert.That(seed.ExitCode, Is.EqualTo(0), seed.ToString());
        Assert.That(seed.Out, Does.Match(@"conv2\s+Conv2d \+ ReLU\s+\[64, 11, 11\] \(10x10 computed\)\s+18,496\s+3\.69"));
        Assert.That(seed.Out, Does.Contain("Trainable parameters: 225,034"));
        var bn3 = Run("summary", "--model", "bn3");
        Assert.That(bn3.Out, Does.Match(@"bn4\s+BatchNorm1d \+ ReLU\s+\[256\]\s+512"));
        Assert.That(bn3.Out, Does.Contain("Trainable parameters: 391,370"));
        Assert.That(bn3.Out, Does.Contain("buffers (not trained): 964"));
        Assert.That(bn3.Out, Does.Contain("--lr-schedule cosine"));
    }

    [TestCase("--model", "resnet", "--model must be one of seed, bn3")]
    [TestCase("--augment", "shift=20", "--augment")]
    [TestCase("--augment", "rotate", "--augment")]
    [TestCase("--lr-schedule", "linear", "--lr-schedule")]
    [TestCase("--weight-decay", "-1", "--weight-decay")]
    [TestCase("--warmup-epochs", "11", "--warmup-epochs")]
    [TestCase("--evaluate", "first", "--evaluate")]
    public void BadRecipeFlagsAreOneLineAndExitCode2(string flag, string value, string mention)
    {
        var r = Run("train", flag, value, "--out", Path.Combine(TempDir(), "never"));
        AssertUsageError(r, mention);
        Assert.That(Directory.Exists(Path.Combine(TempDir(), "never")), Is.False);
    }

    [Test]
    public void TheBestEpochNeedsAValidationSet()
    {
        var r = Run("train", "--model", "bn3", "--val-split", "0", "--out", Path.Combine(TempDir(), "never"));
        AssertUsageError(r, "--evaluate best needs a validation set");
        AssertUsageError(Run("train", "--val-split", "0", "--early-stop", "3", "--out", Path.Combine(TempDir(), "never")), "--early-stop needs a validation set");
    }
}
