using System.Diagnostics;
using FashionGpu.Tests.Kernels;
using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;
using static FashionGpu.Tests.Cli.Runs;

namespace FashionGpu.Tests.Cli;

/// <summary>
/// A real full disk: the run writes into a tmpfs mounted by the test, sized from the files of
/// the same uninterrupted run so that it fills at one chosen write. The run must stop with one
/// line naming the file (exit 3), leave no temporary file and damage nothing it wrote before;
/// after space is freed, --resume must end exactly as the uninterrupted run. Needs root (mount);
/// skipped visibly elsewhere, and required under CI, which runs as root.
/// </summary>
[NonParallelizable]
public sealed class FullDiskTests
{
    private static readonly int Page = Environment.SystemPageSize;

    private static long Pages(string dir, params string[] files) => files.Sum(f => (new FileInfo(Path.Combine(dir, f)).Length + Page - 1) / Page);

    /// <summary>A tmpfs of <paramref name="pages"/> pages; Grow frees the disk, Dispose unmounts it.</summary>
    private sealed class Tmpfs : IDisposable
    {
        public string Dir { get; } = TempDir();

        public Tmpfs(long pages)
        {
            if (Runs.EffectiveUserId() != 0)
            {
                if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"))) Assert.Fail("CI runs as root and must run the full-disk tests");
                Assert.Ignore("mounting a tmpfs needs root");
            }
            Mount("-t", "tmpfs", "-o", $"size={pages * Page}", "tmpfs", Dir);
        }

        public void Grow() => Mount("-o", "remount,size=256m", Dir);

        public void Dispose() => Command("umount", "-l", Dir);

        private static void Mount(params string[] args) => Command("mount", args);

        private static void Command(string program, params string[] args)
        {
            using var p = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.That(p.ExitCode, Is.Zero, $"{program} {string.Join(' ', args)}: {err}");
        }
    }

    /// <summary>Runs into a disk of <paramref name="pages"/> pages, expects it to fail writing <paramref name="file"/>, frees space and resumes.</summary>
    private static void FailsAtThenResumes(int epochs, long pages, string file, Action<string>? afterFailure = null)
    {
        string backend = Backends.Fastest, whole = Reference(backend, epochs);
        using var disk = new Tmpfs(pages);
        string dir = Path.Combine(disk.Dir, "run");
        var r = Run(Args(backend, dir, epochs));
        Assert.That(r.ExitCode, Is.EqualTo(3), r.ToString());
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), r.ToString());
        Assert.That(lines[0], Does.StartWith($"fashiongpu: {Path.Combine(dir, file)}: cannot write: no space left on the device"));
        Assert.That(lines[0], Does.Contain($"resume with: ./fashiongpu train --resume {dir}"));
        Assert.That(r.Err, Does.Not.Contain("   at "), "no stack trace");
        AssertNoTemporaryFiles(dir);
        Assert.That(File.ReadAllText(Path.Combine(dir, "metrics.csv")), Does.EndWith("\n"), "metrics.csv whole");
        afterFailure?.Invoke(dir);

        disk.Grow();
        Resume(dir);
        AssertSameRun(dir, whole);
    }

    [Test]
    public void AtTheFirstCheckpoint()
    {
        string whole = Reference(Backends.Fastest, 3);
        // run.json and metrics.csv, with one page for metrics.csv's replacement while it is written;
        // epoch 1 is the best so far, and best.safetensors is written before the checkpoint.
        FailsAtThenResumes(3, Pages(whole, "run.json", "metrics.csv") + 1, "best.safetensors",
            dir => Assert.That(File.Exists(Path.Combine(dir, "model.safetensors")), Is.False));
    }

    [Test]
    public void AtALaterCheckpoint()
    {
        string whole = Reference(Backends.Fastest, 3);
        // Room for one checkpoint and one best, not for the next one written beside it before the
        // rename: best.safetensors when epoch 2 improves on epoch 1 (it is written first), else the checkpoint.
        var val = Metrics(whole).Skip(1).Select(l => double.Parse(l.Split(',')[4], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        string first = val[1] > val[0] ? "best.safetensors" : "model.safetensors";
        FailsAtThenResumes(3, Pages(whole, "run.json", "metrics.csv", "model.safetensors", "best.safetensors") + 1, first, dir =>
        {
            var kept = FashionGpu.Training.Checkpoints.SafeTensors.Read(Path.Combine(dir, "model.safetensors"));
            Assert.That(kept.Metadata["epoch"], Is.EqualTo("1"), "epoch 1's checkpoint is intact");
        });
    }

    [Test]
    public void AtThePictures()
    {
        string whole = Reference(Backends.Fastest, 1);
        FailsAtThenResumes(1, Pages(whole, "run.json", "metrics.csv", "model.safetensors", "best.safetensors", "confusion_matrix.csv", "per_class.csv"), "confusion_matrix.png",
            dir => Assert.That(File.Exists(Path.Combine(dir, "summary.json")), Is.False, "summary.json only once everything else is written"));
    }

    [Test]
    public void AtTheSummary()
    {
        string whole = Reference(Backends.Fastest, 1);
        FailsAtThenResumes(1, Pages(whole, Directory.GetFiles(whole).Select(Path.GetFileName).Where(f => f != "summary.json").ToArray()!), "summary.json");
    }

    [Test]
    public void EvaluatePicturesOnAFullDiskAreOneLineAndNoTemporaryFile()
    {
        string whole = Reference(Backends.Fastest, 1);
        using var disk = new Tmpfs(1);
        var r = Run("evaluate", "--model", Path.Combine(whole, "model.safetensors"), "--accelerator", Backends.Fastest, "--limit-test", "100", "--out", disk.Dir);
        Assert.That(r.ExitCode, Is.EqualTo(3), r.ToString());
        Assert.That(r.Err.Trim(), Does.StartWith("fashiongpu: ").And.Contain("cannot write: no space left on the device").And.Not.Contain("\n"));
        AssertNoTemporaryFiles(disk.Dir);
    }
}
