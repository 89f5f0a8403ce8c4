using System.Text.Json;
using FashionGpu.Tests.Training;
using NUnit.Framework;
using SkiaSharp;
using static FashionGpu.Tests.Cli.CliRunner;

namespace FashionGpu.Tests.Cli;

/// <summary>One small real training run through the CLI, then what a user does with its output directory.</summary>
public sealed class TrainEvaluatePredictTests
{
    private string run = "", backend = "";
    private CliResult trained = null!;

    [OneTimeSetUp]
    public void TrainOnce()
    {
        RealDataset.Directory();
        backend = Kernels.Backends.Fastest;
        Kernels.Backends.Require(backend);
        run = Path.Combine(TempDir(), "run");
        trained = Run("train", "--accelerator", backend, "--epochs", "2", "--limit-train", "3000", "--limit-test", "1000", "--out", run);
    }

    [Test]
    public void TrainPrintsTheAcceleratorEveryEpochAndTheTestAccuracy()
    {
        Assert.That(trained.ExitCode, Is.EqualTo(0), trained.ToString());
        Assert.That(trained.Out, Does.Contain($"Accelerator: {backend}:0"));
        Assert.That(trained.Out, Does.Match(@"epoch 1/2  loss \d\.\d{4}  acc \d+\.\d\d%  val_loss \d\.\d{4}  val_acc \d+\.\d\d%  \d+\.\d s  \d+ samples/s"));
        Assert.That(trained.Out, Does.Contain("epoch 2/2"));
        Assert.That(trained.Out, Does.Match(@"Test accuracy \d+\.\d\d% \(loss \d\.\d{4}\) on 1000 images"));
        foreach (var file in new[] { "run.json", "metrics.csv", "model.safetensors", "summary.json", "confusion_matrix.png", "confusion_matrix.csv", "per_class.csv", "sample_predictions.png", "training_curves.png" })
            Assert.That(File.Exists(Path.Combine(run, file)), Is.True, file);
        Assert.That(Directory.GetFiles(run, "*.tmp*"), Is.Empty, "no temporary files left behind");
    }

    [Test]
    public void EvaluateReproducesTheTestAccuracyOfTheSummaryExactly()
    {
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json")));
        int correct = summary.RootElement.GetProperty("test_correct").GetInt32();
        double accuracy = summary.RootElement.GetProperty("test_accuracy").GetDouble();
        Assert.That(summary.RootElement.GetProperty("per_class_accuracy").EnumerateObject().Count(), Is.EqualTo(10));
        string pictures = Path.Combine(TempDir(), "eval");
        var r = Run("evaluate", "--model", Path.Combine(run, "model.safetensors"), "--accelerator", backend, "--limit-test", "1000", "--out", pictures);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain($"accuracy {accuracy * 100:0.00}% ({correct} of 1000)"));
        foreach (var name in new[] { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" })
            Assert.That(r.Out, Does.Contain(name));
        Assert.That(r.Out, Does.Contain("precision").And.Contain("recall").And.Contain("f1"));
        Assert.That(r.Out, Does.Match(@"  [A-Za-z /-]+ -> [A-Za-z /-]+: \d+"), "the most frequent confusions");
        foreach (var file in new[] { "confusion_matrix.png", "confusion_matrix.csv", "per_class.csv", "sample_predictions.png" })
            Assert.That(File.ReadAllBytes(Path.Combine(pictures, file)), Is.EqualTo(File.ReadAllBytes(Path.Combine(run, file))), $"{file}: the same as train wrote");
    }

    [Test]
    public void EvaluateRefusesALimitAboveTheTestSetAndAnOutThatIsAFile()
    {
        string model = Path.Combine(run, "model.safetensors");
        AssertUsageError(Run("evaluate", "--model", model, "--accelerator", "cpu", "--limit-test", "10001"), "--limit-test 10001 is more than the 10000 test samples");
        string file = Path.Combine(TempDir(), "taken");
        File.WriteAllText(file, "mine");
        AssertUsageError(Run("evaluate", "--model", model, "--accelerator", "cpu", "--out", file), "--out", "is a file, not a directory");
        Assert.That(File.ReadAllText(file), Is.EqualTo("mine"));
    }

    [Test]
    public void TheConfusionMatrixCsvSumsToTheTestSetAndItsDiagonalToTheCorrectCount()
    {
        var rows = File.ReadAllLines(Path.Combine(run, "confusion_matrix.csv"));
        Assert.That(rows, Has.Length.EqualTo(11));
        var counts = rows.Skip(1).Select(r => r.Split(',').Skip(1).Select(int.Parse).ToArray()).ToArray();
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json")));
        Assert.That(counts.Sum(r => r.Sum()), Is.EqualTo(1000));
        Assert.That(Enumerable.Range(0, 10).Sum(i => counts[i][i]), Is.EqualTo(summary.RootElement.GetProperty("test_correct").GetInt32()));
        var perClass = File.ReadAllLines(Path.Combine(run, "per_class.csv"));
        Assert.That(perClass[0], Is.EqualTo("class,name,support,precision,recall,f1"));
        Assert.That(perClass.Skip(1).Sum(l => int.Parse(l.Split(',')[2])), Is.EqualTo(1000));
    }

    [TestCase("confusion_matrix.png", 1000, 860)]
    [TestCase("sample_predictions.png", 5 * 154 + 14, 56 + 5 * 202 + 14)]
    [TestCase("training_curves.png", 1400, 500)]
    public void PicturesDecodeWithTheDocumentedSizeAndAreNotBlank(string file, int width, int height)
    {
        using var bitmap = SKBitmap.Decode(Path.Combine(run, file));
        Assert.That(bitmap, Is.Not.Null);
        Assert.That((bitmap.Width, bitmap.Height), Is.EqualTo((width, height)));
        Assert.That(Pictures.DistinctColors(bitmap), Is.GreaterThan(20), "more than a blank canvas");
        Assert.That(Pictures.DarkPixels(bitmap, new SKRectI(0, 0, bitmap.Width, bitmap.Height)), Is.GreaterThan(500));
    }

    [Test]
    public void PredictPrintsTheTopThreeClassesOfATestImage()
    {
        var r = Run("predict", "--model", Path.Combine(run, "model.safetensors"), "--index", "0", "--accelerator", "cpu");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain("test image 0 (true class: Ankle boot)"));
        var ranks = r.Out.Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\s*[123]  ")).ToList();
        Assert.That(ranks, Has.Count.EqualTo(3), r.Out);
        var probabilities = ranks.Select(l => double.Parse(l.Trim().Split("  ", StringSplitOptions.RemoveEmptyEntries)[^1].TrimEnd('%'))).ToList();
        Assert.That(probabilities, Is.Ordered.Descending);
        Assert.That(probabilities.Sum(), Is.LessThanOrEqualTo(100.01));
    }

    [Test]
    public void PredictReadsA28x28PngAndRefusesOtherSizes()
    {
        string dir = TempDir();
        string good = Path.Combine(dir, "shirt.png"), big = Path.Combine(dir, "big.png"), notPng = Path.Combine(dir, "text.png");
        WritePng(good, 28, 28);
        WritePng(big, 32, 30);
        File.WriteAllText(notPng, "not an image");
        var r = Run("predict", "--model", Path.Combine(run, "model.safetensors"), "--image", good, "--accelerator", "cpu");
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.Contain($"Prediction for {good}"));
        AssertUsageError(Run("predict", "--model", Path.Combine(run, "model.safetensors"), "--image", big), "32x30", "28x28");
        AssertUsageError(Run("predict", "--model", Path.Combine(run, "model.safetensors"), "--image", notPng), notPng);
    }

    /// <summary>A PNG cut off after a valid header (and another with its pixel data garbled) is refused, not predicted from half an image.</summary>
    [TestCase(0.5, false, "truncated")]
    [TestCase(1.0, true, "could not be decoded whole")]
    public void PredictRefusesADamagedPng(double keep, bool garble, string mention)
    {
        string dir = TempDir(), good = Path.Combine(dir, "good.png"), bad = Path.Combine(dir, "bad.png");
        WritePng(good, 28, 28);
        var bytes = File.ReadAllBytes(good);
        Assert.That(bytes.Length, Is.GreaterThan(80), "an image with a body to damage");
        var damaged = bytes[..(int)(bytes.Length * keep)];
        // Inside the compressed pixel data (past IDAT's tag and its 2-byte zlib header): the header still reads as 28x28.
        int idat = System.Text.Encoding.ASCII.GetString(bytes).IndexOf("IDAT", StringComparison.Ordinal);
        Assert.That(idat, Is.GreaterThan(0));
        if (garble) for (int i = idat + 6; i < damaged.Length - 16; i++) damaged[i] ^= 0x5A;
        File.WriteAllBytes(bad, damaged);
        AssertUsageError(Run("predict", "--model", Path.Combine(run, "model.safetensors"), "--image", bad, "--accelerator", "cpu"), bad, mention);
    }

    /// <summary>Test images 0..n-1 as gray PNGs (lossless, so predict sees exactly the test set's pixels).</summary>
    private static void WriteTestImages(string dir, int n)
    {
        var (_, test) = FashionGpu.Training.Data.FashionMnist.Load(RealDataset.Directory());
        for (int i = 0; i < n; i++)
        {
            using var bitmap = new SKBitmap(28, 28, SKColorType.Gray8, SKAlphaType.Opaque);
            System.Runtime.InteropServices.Marshal.Copy(test.Pixels, i * 784, bitmap.GetPixels(), 784);
            using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(dir, $"test-{i:00}.png"), data.ToArray());
        }
    }

    [Test]
    public void PredictImagesClassifiesEveryGoodPngOfADirectoryAndNamesTheDamagedOnes()
    {
        string dir = TempDir();
        WriteTestImages(dir, 5);
        WritePng(Path.Combine(dir, "wide.png"), 32, 28);
        var whole = File.ReadAllBytes(Path.Combine(dir, "test-00.png"));
        File.WriteAllBytes(Path.Combine(dir, "truncated.png"), whole[..(whole.Length / 2)]);
        File.WriteAllText(Path.Combine(dir, "notes.png"), "not an image");
        File.WriteAllText(Path.Combine(dir, "readme.txt"), "not a .png: not listed");
        var r = Run("predict", "--model", Path.Combine(run, "model.safetensors"), "--images", dir, "--accelerator", "cpu");
        Assert.That(r.ExitCode, Is.EqualTo(1), "some images failed: " + r);
        var rows = r.Out.Split('\n').Where(l => l.StartsWith(dir)).ToList();
        Assert.That(rows, Has.Count.EqualTo(8), r.Out);
        Assert.That(rows.Count(l => l.Contains("not classified")), Is.EqualTo(3), r.Out);
        Assert.That(rows.Single(l => l.Contains("wide.png")), Does.Contain("is 32x28; a 28x28 image is expected"));
        Assert.That(rows.Single(l => l.Contains("truncated.png")), Does.Contain("truncated"));
        Assert.That(rows.Single(l => l.Contains("notes.png")), Does.Contain("is not a PNG"));
        Assert.That(rows.Single(l => l.Contains("test-00.png")), Does.Match(@"Ankle boot +\d+\.\d\d% +Ankle boot \d+\.\d\d%, [A-Za-z/ -]+ \d+\.\d\d%, [A-Za-z/ -]+ \d+\.\d\d%"));
        Assert.That(r.Out, Does.Contain("5 of 8 images classified."));
        Assert.That(r.Out, Does.Not.Contain("readme.txt"));
        foreach (var bad in new[] { "wide.png", "truncated.png", "notes.png" })
            Assert.That(r.Err, Does.Contain($"fashiongpu: {Path.Combine(dir, bad)}: "), r.Err);
    }

    [Test]
    public void PredictImagesWritesACsvWhoseProbabilitiesAreTheEvaluationsOfThoseTestImages()
    {
        string dir = TempDir(), csv = Path.Combine(TempDir(), "predictions.csv");
        WriteTestImages(dir, 40);
        File.WriteAllText(Path.Combine(dir, "broken.png"), "");
        // Files and a directory mixed; rows come in the order given, a directory's files sorted.
        var r = Run("predict", "--model", Path.Combine(run, "model.safetensors"), "--images", Path.Combine(dir, "test-07.png"), dir, "--out", csv, "--accelerator", "cpu");
        Assert.That(r.ExitCode, Is.EqualTo(1), r.ToString());
        Assert.That(r.Out, Does.Contain($"Wrote {csv}: 41 of 42 images classified."));
        var lines = File.ReadAllLines(csv);
        Assert.That(lines[0], Is.EqualTo("file,class,probability,class_2,probability_2,class_3,probability_3,error"));
        Assert.That(lines, Has.Length.EqualTo(43));
        Assert.That(lines[1], Does.StartWith(Path.Combine(dir, "test-07.png") + ","));
        Assert.That(lines[2], Does.StartWith(Path.Combine(dir, "broken.png") + ",,,,,,,"));
        var (network, state) = FashionGpu.Training.Checkpoints.ModelCheckpoint.Load(Path.Combine(run, "model.safetensors"));
        var (_, test) = FashionGpu.Training.Data.FashionMnist.Load(RealDataset.Directory());
        var expected = FashionGpu.Training.Evaluator.Run(Kernels.Backends.Get("cpu"), network, state, test.Take(40));
        for (int i = 0; i < 40; i++)
        {
            var cells = lines[3 + i].Split(',');
            Assert.That(cells[0], Is.EqualTo(Path.Combine(dir, $"test-{i:00}.png")));
            var p = expected.Probabilities(i);
            Assert.That(cells[1], Is.EqualTo(FashionGpu.Training.Data.FashionMnist.ClassNames[expected.Predicted(i)]), $"image {i}");
            Assert.That(double.Parse(cells[2], System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(p.Max()).Within(1e-6), $"image {i}");
            Assert.That(double.Parse(cells[2]) >= double.Parse(cells[4]) && double.Parse(cells[4]) >= double.Parse(cells[6]), Is.True, lines[3 + i]);
            Assert.That(cells[7], Is.Empty);
        }
    }

    [Test]
    public void PredictImagesRefusesMissingPathsAndDirectoriesWithoutPngs()
    {
        string model = Path.Combine(run, "model.safetensors"), empty = TempDir(), missing = Path.Combine(empty, "none.png");
        AssertUsageError(Run("predict", "--model", model, "--images", missing), "--images", missing, "does not exist");
        AssertUsageError(Run("predict", "--model", model, "--images", empty), "--images", empty, "holds no .png files");
        WriteTestImages(empty, 1);
        AssertUsageError(Run("predict", "--model", model, "--images", empty, "--out", Path.Combine(empty, "no", "p.csv")), "--out", "does not exist");
        var ok = Run("predict", "--model", model, "--images", empty, "--accelerator", "cpu");
        Assert.That(ok.ExitCode, Is.EqualTo(0), ok.ToString());
        Assert.That(ok.Out, Does.Contain("1 of 1 images classified."));
    }

    private static void WritePng(string path, int w, int h)
    {
        using var bitmap = new SKBitmap(w, h, SKColorType.Gray8, SKAlphaType.Opaque);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) bitmap.SetPixel(x, y, (x - w / 2) * (x - w / 2) + (y - h / 2) * (y - h / 2) < 80 ? SKColors.White : SKColors.Black);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }
}

/// <summary>Pixel statistics to tell a real picture from a blank one, and text from no text.</summary>
public static class Pictures
{
    public static int DistinctColors(SKBitmap b) => b.Pixels.Distinct().Count();

    /// <summary>Pixels dark in every channel in a region (black text on white; red is not dark).</summary>
    public static int DarkPixels(SKBitmap b, SKRectI region)
    {
        int n = 0;
        for (int y = region.Top; y < region.Bottom; y++)
            for (int x = region.Left; x < region.Right; x++)
            {
                var c = b.GetPixel(x, y);
                if (Math.Max(c.Red, Math.Max(c.Green, c.Blue)) < 110) n++;
            }
        return n;
    }
}
