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
    [TestCase(new[] { "selftest", "--accelerator", "cuda", "--device", "99" }, "cuda")] // absent, or not that many: a usage error either way
    [TestCase(new[] { "train", "--lr", "1e-50" }, "--lr 1e-50 is 0 in float32")]
    [TestCase(new[] { "train", "--lr", "1e-40" }, "--lr 1e-40 is denormal in float32")]
    [TestCase(new[] { "train", "--lr", "1e39" }, "--lr 1e+39 is infinite in float32")]
    [TestCase(new[] { "train", "--dropout", "0.5,0.999999999" }, "--dropout must be two probabilities in [0, 1)")] // 1 in float32
    [TestCase(new[] { "evaluate" }, "--model")]
    [TestCase(new[] { "predict", "--model", "x.safetensors" }, "exactly one of --index I, --image FILE.png or --images")]
    [TestCase(new[] { "predict", "--model", "x.safetensors", "--index", "1", "--images", "a.png" }, "exactly one of --index I, --image FILE.png or --images")]
    [TestCase(new[] { "predict", "--model", "x.safetensors", "--index", "1", "--out", "p.csv" }, "--out goes with --images")]
    [TestCase(new[] { "export" }, "--model")]
    [TestCase(new[] { "frobnicate" }, "frobnicate")]
    public void BadFlagsAreUsageErrors(string[] args, string mention) => AssertUsageError(Run(args), mention);

    [Test]
    public void BatchLargerThanTheTrainingDataIsRefused() =>
        AssertUsageError(Run("train", "--limit-train", "100", "--batch-size", "500", "--out", Path.Combine(TempDir(), "run")),
            "--batch-size 500 is larger than the 90 training samples");

    [TestCase("--limit-train", "60001", "is more than the 60000 training samples")]
    [TestCase("--limit-test", "10001", "is more than the 10000 test samples")]
    public void LimitsAboveTheDataAreRefused(string flag, string value, string mention)
    {
        Training.RealDataset.Directory();
        string dir = Path.Combine(TempDir(), "run");
        AssertUsageError(Run("train", "--accelerator", "cpu", flag, value, "--out", dir), $"{flag} {value} {mention}");
        Assert.That(Directory.Exists(dir), Is.False, "nothing written for a refused run");
    }

    /// <summary>The smallest batch that does not fit, from the device's own memory (so any device, GPUs included, is tested).</summary>
    [TestCaseSource(typeof(Kernels.Backends), nameof(Kernels.Backends.Names))]
    public void ABatchTooLargeForTheDeviceSaysHowMuchMemoryItNeeds(string backend)
    {
        var device = Kernels.Backends.Require(backend);
        Training.RealDataset.Directory();
        var seed = FashionGpu.Training.Model.Presets.Seed(new());
        long perSample = seed.DeviceBytes(2) - seed.DeviceBytes(1);
        long batch = device.MemoryBytes / perSample + 1;
        if (batch > int.MaxValue) Assert.Ignore($"{device.Id} has {device.MemoryBytes} bytes: no int batch exceeds it");
        AssertUsageError(Run("train", "--accelerator", backend, "--batch-size", batch.ToString(), "--out", Path.Combine(TempDir(), "run")),
            $"--batch-size {batch} needs about", $"on {device.Id}, which has");
    }

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
    [TestCase("bench")]
    [TestCase("summary")]
    [TestCase("export")]
    public void EveryCommandHasHelp(string command)
    {
        var r = Run(command, "--help");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("Usage:").And.Contain(command));
    }
}
