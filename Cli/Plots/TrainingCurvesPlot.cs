using FashionGpu.Training;
using ScottPlot;

namespace FashionGpu.Cli.Plots;

/// <summary>training_curves.png: loss and accuracy per epoch, training against validation, in two panels.</summary>
public static class TrainingCurvesPlot
{
    public const int PanelWidth = 700, Height = 500;

    public static void Save(string path, IReadOnlyList<EpochMetrics> epochs, bool labels = true)
    {
        PlotStyle.UseBundledFonts();
        double[] x = epochs.Select(e => (double)e.Epoch).ToArray();
        var loss = Panel(labels, "Loss", "cross-entropy",
            ("training", x, epochs.Select(e => e.TrainLoss).ToArray()),
            ("validation", x, epochs.Select(e => e.ValLoss ?? double.NaN).ToArray()));
        var accuracy = Panel(labels, "Accuracy", "accuracy (%)",
            ("training", x, epochs.Select(e => e.TrainAccuracy * 100).ToArray()),
            ("validation", x, epochs.Select(e => (e.ValAccuracy ?? double.NaN) * 100).ToArray()));
        PlotStyle.SavePanels(path, PanelWidth, Height, loss, accuracy);
    }

    /// <summary>One panel with a line per series (series that are all NaN, such as validation without a split, are left out).</summary>
    public static Plot Panel(bool labels, string title, string yLabel, params (string Name, double[] X, double[] Y)[] series)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        foreach (var (name, xs, ys) in series)
        {
            var color = palette.GetColor(i++);
            if (ys.All(double.IsNaN)) continue;
            var line = plot.Add.Scatter(xs, ys);
            line.Color = color;
            line.LineWidth = 2.5f;
            line.MarkerSize = 7;
            if (labels) line.LegendText = name;
        }
        if (labels)
        {
            plot.Title(title, 18);
            plot.XLabel("epoch", 15);
            plot.YLabel(yLabel, 15);
            plot.ShowLegend(Alignment.MiddleRight);
        }
        else
        {
            plot.Axes.Bottom.TickLabelStyle.IsVisible = false;
            plot.Axes.Left.TickLabelStyle.IsVisible = false;
        }
        // The same frame with or without labels, so pictures line up (and tests can compare regions).
        plot.Layout.Fixed(new PixelPadding(75, 20, 55, 40));
        // Epochs are whole numbers: ticks at integers only.
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        return plot;
    }
}
