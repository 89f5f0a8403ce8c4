using System.Collections.Concurrent;
using System.Text.Json;
using FashionGpu.Tests.Cli;
using FashionGpu.Tests.Kernels;
using FashionGpu.Tests.Training;
using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;

namespace FashionGpu.Tests.Interop;

/// <summary>A short real training run of one preset, with its ONNX export and the weights its test accuracy was measured with.</summary>
public sealed record ShortRun(string Preset, string Directory, string Weights, string Backend, CliResult Output)
{
    public string Onnx => Path.Combine(Directory, "model.onnx");
}

/// <summary>
/// One short run per preset through the CLI (train --onnx on the fastest backend), made once
/// and shared by the ONNX and PyTorch tests. Batch norm's running statistics move well away
/// from 0 and 1 within its steps, so bn3's files carry real ones.
/// </summary>
public static class ShortRuns
{
    private static readonly ConcurrentDictionary<string, Lazy<ShortRun>> runs = new();

    public static ShortRun Get(string preset)
    {
        RealDataset.Directory();
        Backends.Require(Backends.Fastest);
        return runs.GetOrAdd(preset, p => new Lazy<ShortRun>(() => Train(p))).Value;
    }

    private static ShortRun Train(string preset)
    {
        string backend = Backends.Fastest, dir = Path.Combine(TempDir(), $"run-{preset}");
        var r = Run(TimeSpan.FromMinutes(10), "train", "--model", preset, "--accelerator", backend, "--epochs", "1", "--limit-train", "2200",
            "--batch-size", "64", "--limit-test", "100", "--onnx", "--out", dir);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
        string weights = summary.RootElement.GetProperty("evaluated_weights").GetString() == "best" ? "best.safetensors" : "model.safetensors";
        return new ShortRun(preset, dir, Path.Combine(dir, weights), backend, r);
    }
}
