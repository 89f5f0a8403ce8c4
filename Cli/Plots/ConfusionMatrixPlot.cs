using FashionGpu.Training.Reports;
using ScottPlot;

namespace FashionGpu.Cli.Plots;

/// <summary>confusion_matrix.png: true class down the side, predicted class along the bottom, the count in every cell.</summary>
public static class ConfusionMatrixPlot
{
    public const int Width = 1000, Height = 860;

    public static void Save(string path, ClassificationReport report, bool labels = true)
    {
        PlotStyle.UseBundledFonts();
        int k = report.ClassNames.Count;
        var plot = new Plot();
        // Row r of the heatmap data is drawn at y = r; flip so true class 0 is the top row, as tables read.
        var data = new double[k, k];
        int max = 1;
        for (int t = 0; t < k; t++)
            for (int p = 0; p < k; p++)
            {
                data[k - 1 - t, p] = report.Counts[t, p];
                max = Math.Max(max, report.Counts[t, p]);
            }
        var heatmap = plot.Add.Heatmap(data);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.FlipVertically = true;
        var bar = plot.Add.ColorBar(heatmap);
        bar.Label = labels ? "samples" : "";

        for (int t = 0; t < k; t++)
            for (int p = 0; p < k; p++)
            {
                int count = report.Counts[t, p];
                var text = plot.Add.Text(count.ToString(), p, k - 1 - t);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 15;
                text.LabelBold = t == p;
                // Viridis is dark at the low end and light at the top: white text on dark cells, black on light.
                text.LabelFontColor = count > 0.6 * max ? Colors.Black : Colors.White;
            }

        double[] positions = Enumerable.Range(0, k).Select(i => (double)i).ToArray();
        if (labels)
        {
            plot.Axes.Bottom.SetTicks(positions, report.ClassNames.ToArray());
            plot.Axes.Left.SetTicks(positions.Reverse().ToArray(), report.ClassNames.ToArray());
            plot.Axes.Bottom.TickLabelStyle.Rotation = -35;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
            plot.Axes.Bottom.TickLabelStyle.FontSize = 14;
            plot.Axes.Left.TickLabelStyle.FontSize = 14;
            plot.XLabel("Predicted class", 16);
            // The rotated class names need the room below them; ScottPlot measures them unrotated.
            plot.Axes.Bottom.Label.OffsetY = 40;
            plot.YLabel("True class", 16);
            plot.Title($"Confusion matrix: accuracy {report.Accuracy:P2} on {report.Total} test images", 18);
        }
        else
        {
            plot.Axes.Bottom.SetTicks([], []);
            plot.Axes.Left.SetTicks([], []);
        }
        plot.Axes.Margins(0, 0);
        plot.Layout.Fixed(new PixelPadding(170, 120, 140, 50));
        var png = plot.GetImageBytes(Width, Height, ImageFormat.Png);
        Training.OutputFile.Write(path, s => s.Write(png));
    }
}
