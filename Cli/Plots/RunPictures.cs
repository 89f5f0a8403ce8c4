using FashionGpu.Training;
using FashionGpu.Training.Data;
using FashionGpu.Training.Reports;

namespace FashionGpu.Cli.Plots;

/// <summary>The pictures and tables a run leaves in its output directory.</summary>
public static class RunPictures
{
    public const string ConfusionPng = "confusion_matrix.png", ConfusionCsv = "confusion_matrix.csv", PerClassCsv = "per_class.csv";
    public const string SamplesPng = "sample_predictions.png", CurvesPng = "training_curves.png";

    /// <summary>Confusion matrix (PNG and CSV), per-class scores (CSV) and sample predictions; returns the report for printing.</summary>
    public static ClassificationReport WriteEvaluation(string dir, EvaluationResult test, ImageSet testImages)
    {
        var report = ClassificationReport.From(test, FashionMnist.ClassNames);
        report.WriteConfusionCsv(Path.Combine(dir, ConfusionCsv));
        report.WritePerClassCsv(Path.Combine(dir, PerClassCsv));
        ConfusionMatrixPlot.Save(Path.Combine(dir, ConfusionPng), report);
        SamplePredictionsPlot.Save(Path.Combine(dir, SamplesPng), test, testImages);
        return report;
    }

    public static void WriteCurves(string dir, IReadOnlyList<EpochMetrics> epochs) =>
        TrainingCurvesPlot.Save(Path.Combine(dir, CurvesPng), epochs);

    /// <summary>The per-class table and the most frequent confusions, as evaluate prints them.</summary>
    public static void Print(ClassificationReport report, TextWriter writer, int confusions = 5)
    {
        var table = new TextTable("class", "name", "support", "precision", "recall", "f1");
        foreach (var s in report.Scores())
            table.Add(s.Class, s.Name, s.Support, $"{s.Precision:0.0000}", $"{s.Recall:0.0000}", $"{s.F1:0.0000}");
        table.Write(writer);
        writer.WriteLine();
        writer.WriteLine("Most frequent confusions (true -> predicted):");
        foreach (var c in report.TopConfusions(confusions)) writer.WriteLine($"  {c}");
    }
}
