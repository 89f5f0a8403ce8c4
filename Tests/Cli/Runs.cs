using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using FashionGpu.Tests.Kernels;
using FashionGpu.Tests.Training;
using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;

namespace FashionGpu.Tests.Cli;

/// <summary>
/// Small training runs for the kill, signal and full-disk tests, and what "the same run" means:
/// metrics.csv equal but for its timing columns, the checkpoint equal byte for byte, run.json
/// equal, and (once written) the same test result and pictures.
/// </summary>
public static class Runs
{
    /// <summary>864 training samples in 27 steps of 32, 96 for validation, 100 test images.</summary>
    public static string[] Args(string backend, string outDir, int epochs) =>
        ["train", "--accelerator", backend, "--limit-train", "960", "--limit-test", "100", "--batch-size", "32", "--seed", "11", "--epochs", epochs.ToString(), "--out", outDir];

    private static readonly ConcurrentDictionary<(string, int), Lazy<string>> references = new();

    /// <summary>The uninterrupted run every interrupted one is compared with, made once per backend and epoch count.</summary>
    public static string Reference(string backend, int epochs) => references.GetOrAdd((backend, epochs), key => new Lazy<string>(() =>
    {
        RealDataset.Directory();
        Backends.Require(backend);
        string dir = Path.Combine(TempDir(), $"whole-{backend}-{epochs}");
        var r = Run(Args(backend, dir, epochs));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        return dir;
    })).Value;

    /// <summary>metrics.csv without the timing columns (epoch_seconds, samples_per_second); the accelerator column stays.</summary>
    public static string[] Metrics(string dir) =>
        File.ReadAllLines(Path.Combine(dir, "metrics.csv")).Select(l => string.Join(',', l.Split(',').Where((_, i) => i is not (6 or 7)))).ToArray();

    public static void AssertSameRun(string actual, string expected)
    {
        Assert.That(Metrics(actual), Is.EqualTo(Metrics(expected)), "metrics.csv");
        foreach (var file in new[] { "model.safetensors", "best.safetensors", "run.json", "confusion_matrix.png", "confusion_matrix.csv", "per_class.csv", "sample_predictions.png", "training_curves.png" })
            Assert.That(File.ReadAllBytes(Path.Combine(actual, file)), Is.EqualTo(File.ReadAllBytes(Path.Combine(expected, file))), file);
        using var a = JsonDocument.Parse(File.ReadAllText(Path.Combine(actual, "summary.json")));
        using var e = JsonDocument.Parse(File.ReadAllText(Path.Combine(expected, "summary.json")));
        foreach (var field in new[] { "test_correct", "test_loss" })
            Assert.That(a.RootElement.GetProperty(field).GetDouble(), Is.EqualTo(e.RootElement.GetProperty(field).GetDouble()), field);
        AssertNoTemporaryFiles(actual);
    }

    public static void AssertNoTemporaryFiles(string dir) =>
        Assert.That(Directory.GetFiles(dir, "*.tmp*"), Is.Empty, "no temporary file left behind");

    /// <summary>Resumes <paramref name="dir"/> with no flags but --resume: the run's own settings and device.</summary>
    public static CliResult Resume(string dir)
    {
        var r = Run("train", "--resume", dir);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        return r;
    }

    /// <summary>A run that stops at a <c>FASHIONGPU_TEST_HOLD</c> point and waits there to be killed or interrupted.</summary>
    public sealed class Held : IDisposable
    {
        private readonly Process process;
        private readonly Task<string> stdout;
        private readonly System.Text.StringBuilder stderr = new();

        public Held(string point, params string[] args)
        {
            var info = StartInfo(args);
            info.Environment["FASHIONGPU_TEST_HOLD"] = point;
            process = Process.Start(info)!;
            stdout = process.StandardOutput.ReadToEndAsync();
            var clock = Stopwatch.StartNew();
            while (process.StandardError.ReadLine() is { } line)
            {
                stderr.AppendLine(line);
                if (line == $"test hold: {point}") return;
            }
            process.WaitForExit();
            Assert.Fail($"the run ended (exit {process.ExitCode}) without reaching {point}:\n{stdout.Result}\n{stderr}");
        }

        public void Kill()
        {
            process.Kill();
            process.WaitForExit();
        }

        /// <summary>Sends SIGINT (Ctrl-C) or SIGTERM and waits for the run to stop by itself.</summary>
        public CliResult Signal(int signal)
        {
            Assert.That(SendSignal(process.Id, signal), Is.Zero, "kill(2)");
            Assert.That(process.WaitForExit(TimeSpan.FromSeconds(60)), Is.True, "stops within seconds");
            stderr.Append(process.StandardError.ReadToEnd());
            return new CliResult(process.ExitCode, stdout.Result, stderr.ToString());
        }

        public void Dispose()
        {
            if (!process.HasExited) Kill();
            process.Dispose();
        }
    }

    public const int SigInt = 2, SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    [DllImport("libc", EntryPoint = "geteuid")]
    public static extern uint EffectiveUserId();
}
