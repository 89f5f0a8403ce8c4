using FashionGpu.Training;
using FashionGpu.Training.Data;
using SkiaSharp;

namespace FashionGpu.Cli.Plots;

/// <summary>
/// sample_predictions.png: a grid of test images, each with its true label and the predicted
/// label and probability beneath; wrong predictions in red with a red frame. Correct and
/// wrong examples are mixed (the first ones of each, in test-set order) as in the seed's figure.
/// </summary>
public static class SamplePredictionsPlot
{
    public const int Columns = 5, Rows = 5, Scale = 5, Cell = 28 * Scale, LabelHeight = 48, Pad = 14, TitleHeight = 56;
    public const int Width = Columns * (Cell + Pad) + Pad, Height = TitleHeight + Rows * (Cell + LabelHeight + Pad) + Pad;

    /// <summary>Which samples to show: up to 2/5 wrong ones, the rest correct, in test-set order.</summary>
    public static IReadOnlyList<int> Choose(EvaluationResult result, int count = Columns * Rows)
    {
        var wrong = Enumerable.Range(0, result.Count).Where(i => result.Predicted(i) != result.Labels[i]).Take(count * 2 / 5).ToList();
        var right = Enumerable.Range(0, result.Count).Where(i => result.Predicted(i) == result.Labels[i]).Take(count - wrong.Count).ToList();
        return wrong.Concat(right).Order().ToList();
    }

    public static void Save(string path, EvaluationResult result, ImageSet images, bool labels = true)
    {
        var chosen = Choose(result);
        using var surface = SKSurface.Create(new SKImageInfo(Width, Height));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var titleFont = new SKFont(PlotStyle.Bold, 20);
        using var font = new SKFont(PlotStyle.Regular, 13);
        using var black = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var red = new SKPaint { Color = new SKColor(0xD6, 0x27, 0x28), IsAntialias = true };
        using var frame = new SKPaint { Color = red.Color, Style = SKPaintStyle.Stroke, StrokeWidth = 4 };
        int wrongCount = chosen.Count(i => result.Predicted(i) != result.Labels[i]);
        if (labels)
            canvas.DrawText($"Sample test predictions: {chosen.Count - wrongCount} correct, {wrongCount} wrong (red)", Pad, 36, titleFont, black);

        for (int n = 0; n < chosen.Count; n++)
        {
            int i = chosen[n], row = n / Columns, col = n % Columns;
            float x = Pad + col * (Cell + Pad), y = TitleHeight + row * (Cell + LabelHeight + Pad);
            using (var bitmap = ToBitmap(images.Image(i)))
                canvas.DrawBitmap(bitmap, new SKRect(x, y, x + Cell, y + Cell), new SKPaint { IsAntialias = false });
            int predicted = result.Predicted(i);
            bool wrong = predicted != result.Labels[i];
            if (wrong) canvas.DrawRect(x - 2, y - 2, Cell + 4, Cell + 4, frame);
            if (!labels) continue;
            double probability = result.Probabilities(i)[predicted];
            canvas.DrawText($"true: {FashionMnist.ClassNames[result.Labels[i]]}", x, y + Cell + 18, font, black);
            canvas.DrawText($"pred: {FashionMnist.ClassNames[predicted]} {probability:P0}", x, y + Cell + 36, font, wrong ? red : black);
        }
        PlotStyle.SavePng(surface, path);
    }

    /// <summary>Fashion-MNIST's light-on-dark images drawn dark-on-light, as garments are usually seen.</summary>
    private static SKBitmap ToBitmap(ReadOnlySpan<byte> pixels)
    {
        var bitmap = new SKBitmap(28, 28, SKColorType.Gray8, SKAlphaType.Opaque);
        var target = bitmap.GetPixelSpan();
        for (int p = 0; p < 28 * 28; p++) target[p] = (byte)(255 - pixels[p]);
        return bitmap;
    }
}
