using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;

namespace FashionGpu.Tests.Cli;

/// <summary>Bad flags: exit code 2 and one line naming the flag and the accepted range.</summary>
public sealed class FlagTests
{
    [TestCase(new[] { "train", "--bogus" }, "--bogus")]
    [TestCase(new[] { "train", "--batch-size", "abc" }, "--batch-size")]
    [TestCase(new[] { "train", "--batch-size", "0" }, "--batch-size must be at least 1")]
    [TestCase(new[] { "train", "--epochs", "0" }, "--epochs must be at least 1")]
    [TestCase(new[] { "train", "--lr", "0" }, "--lr must be a finite number > 0")]
    [TestCase(new[] { "train", "--lr", "-0.1" }, "--lr must be a finite number > 0")]
    [TestCase(new[] { "train", "--lr", "NaN" }, "--lr must be a finite number > 0")]
    [TestCase(new[] { "train", "--lr", "Infinity" }, "--lr must be a finite number > 0")]
    [TestCase(new[] { "train", "--lr", "fast" }, "--lr")]
    [TestCase(new[] { "train", "--dropout", "1,0" }, "--dropout must be two probabilities in [0, 1)")]
    [TestCase(new[] { "train", "--dropout", "0.5" }, "--dropout must be two probabilities in [0, 1)")]
    [TestCase(new[] { "train", "--dropout", "-0.1,0.2" }, "--dropout must be two probabilities in [0, 1)")]
    [TestCase(new[] { "train", "--val-split", "1" }, "--val-split must be in [0, 1)")]
    [TestCase(new[] { "train", "--val-split", "-0.5" }, "--val-split must be in [0, 1)")]
    [TestCase(new[] { "train", "--limit-train", "0" }, "--limit-train must be at least 1")]
    [TestCase(new[] { "train", "--accelerator", "tpu" }, "tpu")]
    [TestCase(new[] { "selftest", "--device", "-1" }, "--device must be 0 or more")]
    [TestCase(new[] { "selftest", "--accelerator", "cpu", "--device", "7" }, "--device 7 is out of range")]
    [TestCase(new[] { "selftest", "--accelerator", "cuda" }, "no cuda device found; present: cpu:0")]
    [TestCase(new[] { "evaluate" }, "--model")]
    [TestCase(new[] { "predict", "--model", "x.safetensors" }, "exactly one of --index I or --image FILE.png")]
    [TestCase(new[] { "frobnicate" }, "frobnicate")]
    public void BadFlagsAreUsageErrors(string[] args, string mention) => AssertUsageError(Run(args), mention);

    [Test]
    public void BatchLargerThanTheTrainingDataIsRefused() =>
        AssertUsageError(Run("train", "--limit-train", "100", "--batch-size", "500", "--out", Path.Combine(TempDir(), "run")),
            "--batch-size 500 is larger than the 90 training samples");

    [Test]
    public void ABatchTooLargeForTheDeviceSaysHowMuchMemoryItNeeds() =>
        AssertUsageError(Run("train", "--accelerator", "opencl", "--batch-size", "50000", "--out", Path.Combine(TempDir(), "run")),
            "--batch-size 50000 needs about", "GiB on opencl:0, which has");

    [Test]
    public void ANonEmptyOutputDirectoryIsRefusedWithoutForce()
    {
        string dir = TempDir();
        File.WriteAllText(Path.Combine(dir, "keep.txt"), "precious");
        AssertUsageError(Run("train", "--limit-train", "200", "--epochs", "1", "--out", dir), "--out", "is not empty", "--force");
        Assert.That(File.ReadAllText(Path.Combine(dir, "keep.txt")), Is.EqualTo("precious"));
    }

    [TestCase("devices")]
    [TestCase("selftest")]
    [TestCase("train")]
    [TestCase("evaluate")]
    [TestCase("predict")]
    [TestCase("report")]
    public void EveryCommandHasHelp(string command)
    {
        var r = Run(command, "--help");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("Usage:").And.Contain(command));
    }
}
