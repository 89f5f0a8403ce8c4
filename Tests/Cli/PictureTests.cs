using FashionGpu.Cli.Plots;
using FashionGpu.Training;
using FashionGpu.Training.Data;
using FashionGpu.Training.Reports;
using NUnit.Framework;
using SkiaSharp;

namespace FashionGpu.Tests.Cli;

/// <summary>
/// Text really renders (the bundled font works on a machine without fonts): the regions where
/// labels go have dark pixels with labels on and (almost) none with labels off.
/// </summary>
public sealed class PictureTests
{
    private static readonly string[] Names = FashionMnist.ClassNames;

    private static ClassificationReport Report()
    {
        var rng = new Random(1);
        var truth = Enumerable.Range(0, 500).Select(i => i % 10).ToArray();
        var predicted = truth.Select(t => rng.NextDouble() < 0.8 ? t : rng.Next(10)).ToArray();
        return new ClassificationReport(truth, predicted, Names);
    }

    private static SKBitmap Draw(Action<string> save)
    {
        string path = Path.Combine(CliRunner.TempDir(), "picture.png");
        save(path);
        return SKBitmap.Decode(path);
    }

    [Test]
    public void ConfusionMatrixHasClassNamesOnBothAxes()
    {
        var report = Report();
        using var on = Draw(p => ConfusionMatrixPlot.Save(p, report, labels: true));
        using var off = Draw(p => ConfusionMatrixPlot.Save(p, report, labels: false));
        var left = new SKRectI(0, 60, 160, 700);      // true-class names
        var bottom = new SKRectI(100, 725, 900, 860); // predicted-class names and the axis label
        Assert.That(Pictures.DarkPixels(on, left), Is.GreaterThan(1000));
        Assert.That(Pictures.DarkPixels(on, bottom), Is.GreaterThan(1000));
        Assert.That(Pictures.DarkPixels(off, left), Is.LessThan(50));
        Assert.That(Pictures.DarkPixels(off, bottom), Is.LessThan(50));
    }

    [Test]
    public void TrainingCurvesHaveAxisLabels()
    {
        var epochs = Enumerable.Range(1, 5).Select(e => new EpochMetrics(e, 1.0 / e, 0.5 + e / 20.0, 1.1 / e, 0.5 + e / 25.0, 1e-3, 10, 1000, "cpu:0")).ToList();
        using var on = Draw(p => TrainingCurvesPlot.Save(p, epochs, labels: true));
        using var off = Draw(p => TrainingCurvesPlot.Save(p, epochs, labels: false));
        var yAxis = new SKRectI(0, 40, 40, 460);          // the loss panel's y label and tick labels
        var xAxis = new SKRectI(100, 465, 650, 500);      // "epoch" under the loss panel
        Assert.That(Pictures.DarkPixels(on, yAxis), Is.GreaterThan(200));
        Assert.That(Pictures.DarkPixels(on, xAxis), Is.GreaterThan(50));
        Assert.That(Pictures.DarkPixels(off, yAxis), Is.LessThan(20));
        Assert.That(Pictures.DarkPixels(off, xAxis), Is.LessThan(20));
    }

    [Test]
    public void SamplePredictionsHaveLabelsUnderTheImagesAndMarkWrongOnesInRed()
    {
        var (_, test) = FashionMnist.Load(Training.RealDataset.Directory());
        var images = test.Take(100);
        // Logits that predict the true class except for every 4th image.
        var logits = new float[100 * 10];
        for (int i = 0; i < 100; i++) logits[i * 10 + (i % 4 == 0 ? (images.Labels[i] + 1) % 10 : images.Labels[i])] = 5;
        var result = new EvaluationResult(0.5, 0.75, 100, 75, logits, images.Labels);
        Assert.That(SamplePredictionsPlot.Choose(result).Count(i => result.Predicted(i) != result.Labels[i]), Is.EqualTo(10));
        using var on = Draw(p => SamplePredictionsPlot.Save(p, result, images, labels: true));
        using var off = Draw(p => SamplePredictionsPlot.Save(p, result, images, labels: false));
        var firstLabels = new SKRectI(14, 56 + 140, 14 + 140, 56 + 140 + 48);
        Assert.That(Pictures.DarkPixels(on, firstLabels), Is.GreaterThan(100));
        Assert.That(Pictures.DarkPixels(off, firstLabels), Is.EqualTo(0));
        int red = on.Pixels.Count(c => c.Red > 180 && c.Green < 80 && c.Blue < 80);
        Assert.That(red, Is.GreaterThan(1000), "wrong predictions are framed and labelled in red");
    }
}
