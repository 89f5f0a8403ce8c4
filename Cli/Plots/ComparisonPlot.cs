using FashionGpu.Training;

namespace FashionGpu.Cli.Plots;

/// <summary>The report picture: validation loss and accuracy per epoch (training where a run has no validation), one line per run.</summary>
public static class ComparisonPlot
{
    public static void Save(string path, IReadOnlyList<(string Name, IReadOnlyList<EpochMetrics> Epochs)> runs)
    {
        PlotStyle.UseBundledFonts();
        (string, double[], double[]) Series(string name, IReadOnlyList<EpochMetrics> e, Func<EpochMetrics, double> y) =>
            (name, e.Select(m => (double)m.Epoch).ToArray(), e.Select(y).ToArray());
        bool hasVal(IReadOnlyList<EpochMetrics> e) => e.Any(m => m.ValLoss is not null);
        var loss = TrainingCurvesPlot.Panel(true, "Validation loss (training loss where no validation)", "cross-entropy",
            runs.Select(r => Series(r.Name, r.Epochs, m => hasVal(r.Epochs) ? m.ValLoss ?? double.NaN : m.TrainLoss)).ToArray());
        var accuracy = TrainingCurvesPlot.Panel(true, "Validation accuracy", "accuracy (%)",
            runs.Select(r => Series(r.Name, r.Epochs, m => 100 * (hasVal(r.Epochs) ? m.ValAccuracy ?? double.NaN : m.TrainAccuracy))).ToArray());
        PlotStyle.SavePanels(path, TrainingCurvesPlot.PanelWidth, TrainingCurvesPlot.Height, loss, accuracy);
    }
}
