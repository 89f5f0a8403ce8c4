using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;

namespace FashionGpu.Tests.Cli;

/// <summary><c>fashiongpu report</c> on hand-made metrics.csv files.</summary>
public sealed class ReportTests
{
    private const string Header = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,epoch_seconds,samples_per_second,accelerator\n";

    private static string Write(string dir, string name, string text)
    {
        string runDir = Path.Combine(dir, name);
        Directory.CreateDirectory(runDir);
        File.WriteAllText(Path.Combine(runDir, "metrics.csv"), text);
        return runDir;
    }

    [Test]
    public void ComparesTwoRunsAndWritesTheOverlay()
    {
        string dir = TempDir();
        string a = Write(dir, "cpu-run", Header + "1,0.6,0.78,0.45,0.84,0.001,100,540,cpu:0\n2,0.4,0.85,0.38,0.87,0.001,100,560,cpu:0\n");
        string b = Write(dir, "opencl-run", Header + "1,0.55,0.8,0.4,0.855,0.001,20,2700,opencl:0\n2,0.38,0.86,0.36,0.881,0.001,20,2800,opencl:0\n3,0.33,0.88,0.37,0.879,0.001,20,2750,opencl:0\n");
        string png = Path.Combine(dir, "cmp.png");
        var r = Run("report", a, Path.Combine(b, "metrics.csv"), "--output", png);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        var cpuRow = r.Out.Split('\n').Single(l => l.StartsWith("cpu-run"));
        var clRow = r.Out.Split('\n').Single(l => l.StartsWith("opencl-run"));
        Assert.That(cpuRow, Does.Contain("87.00%").And.Contain("0.4000").And.Contain("0.3800").And.Contain("550").And.Contain("200.0").And.Contain("cpu:0"));
        Assert.That(clRow, Does.Contain("88.10%").And.Contain("2750").And.Contain("60.0").And.Contain("opencl:0"));
        Assert.That(System.Text.RegularExpressions.Regex.IsMatch(clRow, @"88\.10%\s+2\s"), Is.True, "best validation accuracy at epoch 2: " + clRow);
        using var bitmap = SkiaSharp.SKBitmap.Decode(png);
        Assert.That((bitmap.Width, bitmap.Height), Is.EqualTo((1400, 500)));
    }

    [Test]
    public void AMissingColumnNamesTheFileLineAndColumn()
    {
        string run = Write(TempDir(), "r", "epoch,train_loss,train_accuracy,val_accuracy,learning_rate,epoch_seconds,samples_per_second,accelerator\n1,0.5,0.8,0.8,0.001,1,1,cpu:0\n");
        AssertUsageError(Run("report", run, "--output", Path.Combine(TempDir(), "x.png")), "metrics.csv: line 1: column 'val_loss' is missing");
    }

    [Test]
    public void ANonNumericValueNamesTheFileLineAndColumn()
    {
        string run = Write(TempDir(), "r", Header + "1,0.5,0.8,0.4,0.85,0.001,10,100,cpu:0\n2,abc,0.8,0.4,0.85,0.001,10,100,cpu:0\n");
        AssertUsageError(Run("report", run, "--output", Path.Combine(TempDir(), "x.png")), "metrics.csv: line 3: column 'train_loss': 'abc' is not a number");
    }

    [Test]
    public void ATornLastLineIsReportedAndSkipped()
    {
        string run = Write(TempDir(), "still-running", Header + "1,0.5,0.8,0.4,0.85,0.001,10,100,cpu:0\n2,0.4,0.8");
        var r = Run("report", run, "--output", Path.Combine(TempDir(), "x.png"));
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Err, Does.Contain("line 3 is incomplete"));
        Assert.That(r.Out.Split('\n').Single(l => l.StartsWith("still-running")), Does.Match(@"still-running\s+1\s"));
    }

    [Test]
    public void AnOutputInAMissingDirectoryOrThatIsADirectoryIsAUsageError()
    {
        string dir = TempDir(), run = Write(dir, "r", Header + "1,0.5,0.8,0.4,0.85,0.001,10,100,cpu:0\n");
        AssertUsageError(Run("report", run, "-o", Path.Combine(dir, "missing", "x.png")), "--output", "missing", "does not exist");
        AssertUsageError(Run("report", run, "-o", dir), "--output", "is a directory");
        Assert.That(Directory.GetFiles(dir, "*.tmp*", SearchOption.AllDirectories), Is.Empty);
    }

    [Test]
    public void ADirectoryWithoutMetricsIsAUsageError() =>
        AssertUsageError(Run("report", TempDir()), "no metrics.csv in this directory");
}
