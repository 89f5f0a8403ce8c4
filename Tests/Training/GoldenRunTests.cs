using System.Security.Cryptography;
using FashionGpu.Tests.Kernels;
using FashionGpu.Training;
using FashionGpu.Training.Checkpoints;
using FashionGpu.Training.Data;
using NUnit.Framework;

namespace FashionGpu.Tests.Training;

/// <summary>
/// The seed preset computes exactly what it computed before the network was built from layers:
/// the same metrics (timings aside) and the same trained parameters, bit for bit (Golden/README.md).
/// </summary>
public sealed class GoldenRunTests
{
    private sealed class Silent : ITrainingObserver;

    private static readonly Lazy<(ImageSet Train, ImageSet Test)> RealData = new(() => FashionMnist.Load(RealDataset.Directory()));

    private static string Golden(string file) => Path.Combine(TestContext.CurrentContext.TestDirectory, "Training", "Golden", file);

    [TestCase("cpu")]
    [TestCase("opencl")]
    public void SeedRunMatchesTheGoldenRun(string backend)
    {
        Backends.Require(backend);
        var kernels = Backends.Get(backend);
        if (backend == "opencl" && CpuSignature() != File.ReadAllText(Golden("cpu.txt")))
            Assert.Ignore($"PoCL's rounding depends on the CPU: the golden OpenCL run was recorded on \"{File.ReadAllText(Golden("cpu.txt")).Trim()}\", this is \"{CpuSignature().Trim()}\"");
        string dir = TestRun.TempDir();
        var config = new TrainingConfig { Epochs = 2, LimitTrain = 1000, LimitTest = 200, BatchSize = 50, Seed = 4 };
        var (train, test) = RealData.Value;
        var outcome = TrainingRun.Execute(kernels, backend, config, train, test, dir, new Silent());

        var metrics = File.ReadAllLines(outcome.MetricsPath).Select(l => string.Join(",", l.Split(',').Take(6)));
        Assert.That(metrics, Is.EqualTo(File.ReadAllLines(Golden($"seed-{backend}.csv"))));
        var (model, state) = ModelCheckpoint.Load(outcome.ModelPath);
        var bytes = model.Parameters.Tensors.SelectMany(t => state.Parameters.AsSpan(t.Offset, t.Length).ToArray().SelectMany(BitConverter.GetBytes)).ToArray();
        Assert.That(Convert.ToHexStringLower(SHA256.HashData(bytes)), Is.EqualTo(File.ReadAllText(Golden($"seed-{backend}.sha256")).Trim()));
    }

    /// <summary>The CPU's model name and the vector features PoCL's code generation depends on, as cpu.txt records them.</summary>
    private static string CpuSignature()
    {
        var first = File.ReadAllText("/proc/cpuinfo").Split("\n\n")[0].Split('\n')
            .Select(l => l.Split(':', 2)).Where(p => p.Length == 2).GroupBy(p => p[0].Trim()).ToDictionary(g => g.Key, g => g.First()[1].Trim());
        string[] features = ["avx2", "fma", "avx512f", "avx512vl", "avx512bw", "avx512dq"];
        var flags = first.GetValueOrDefault("flags", "").Split(' ').Where(features.Contains).Order(StringComparer.Ordinal);
        return $"{first.GetValueOrDefault("model name", "?")}\n{string.Join(" ", flags)}\n";
    }
}
