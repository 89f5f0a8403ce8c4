using System.Collections.Concurrent;
using System.Text.Json;
using FashionGpu.Tests.Cli;
using FashionGpu.Tests.Kernels;
using FashionGpu.Tests.Training;
using FashionGpu.Training.Checkpoints;
using FashionGpu.Training.Model;
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
/// from 0 and 1 within its steps, so bn3's files carry real ones. FASHIONGPU_INTEROP_RUNS
/// (run directories separated by ':') adds finished runs to check the same way, exported with
/// 'fashiongpu export' (how README's figures for the reference runs were measured).
/// </summary>
public static class ShortRuns
{
    private static readonly ConcurrentDictionary<string, Lazy<ShortRun>> runs = new();

    /// <summary>Every preset's name, then the directories FASHIONGPU_INTEROP_RUNS names.</summary>
    public static IEnumerable<string> Sources => Presets.All.Select(p => p.Name)
        .Concat((Environment.GetEnvironmentVariable("FASHIONGPU_INTEROP_RUNS") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));

    public static ShortRun Get(string source)
    {
        RealDataset.Directory();
        Backends.Require(Backends.Fastest);
        return runs.GetOrAdd(source, s => new Lazy<ShortRun>(() => Presets.Find(s) is null ? Finished(s) : Train(s))).Value;
    }

    /// <summary>A finished run in <paramref name="dir"/>: its evaluated weights, exported by the CLI.</summary>
    private static ShortRun Finished(string dir)
    {
        string weights = EvaluatedWeights(dir), onnx = Path.Combine(TempDir(), "model.onnx");
        var r = Run("export", "--model", weights, "-o", onnx);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var preset = ModelCheckpoint.Load(weights).Model.Name;
        return new ShortRun(preset, Path.GetDirectoryName(onnx)!, weights, Backends.Fastest, r);
    }

    private static string EvaluatedWeights(string dir)
    {
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")));
        return Path.Combine(dir, summary.RootElement.GetProperty("evaluated_weights").GetString() == "best" ? "best.safetensors" : "model.safetensors");
    }

    private static ShortRun Train(string preset)
    {
        string backend = Backends.Fastest, dir = Path.Combine(TempDir(), $"run-{preset}");
        var r = Run(TimeSpan.FromMinutes(10), "train", "--model", preset, "--accelerator", backend, "--epochs", "1", "--limit-train", "2200",
            "--batch-size", "64", "--limit-test", "100", "--onnx", "--out", dir);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        return new ShortRun(preset, dir, EvaluatedWeights(dir), backend, r);
    }
}
