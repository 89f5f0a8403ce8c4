using System.Globalization;
using CsvHelper;

namespace FashionGpu.Training.Reports;

/// <summary>Precision, recall and F1 of one class.</summary>
public sealed record ClassScores(int Class, string Name, int Support, double Precision, double Recall, double F1);

/// <summary>A pair of classes the model confuses: how many samples of <c>True</c> it called <c>Predicted</c>.</summary>
public sealed record Confusion(string True, string Predicted, int Count)
{
    public override string ToString() => $"{True} -> {Predicted}: {Count}";
}

/// <summary>The confusion matrix of an evaluation and what follows from it.</summary>
public sealed class ClassificationReport
{
    /// <summary>Counts[t, p]: samples of true class t predicted as p.</summary>
    public int[,] Counts { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public int Total { get; }
    public int Correct { get; }
    public double Accuracy => Total == 0 ? double.NaN : Correct / (double)Total;

    public ClassificationReport(IReadOnlyList<int> trueClasses, IReadOnlyList<int> predicted, IReadOnlyList<string> classNames)
    {
        ClassNames = classNames;
        int k = classNames.Count;
        Counts = new int[k, k];
        for (int i = 0; i < trueClasses.Count; i++) Counts[trueClasses[i], predicted[i]]++;
        Total = trueClasses.Count;
        for (int c = 0; c < k; c++) Correct += Counts[c, c];
    }

    public static ClassificationReport From(EvaluationResult result, IReadOnlyList<string> classNames) =>
        new(result.Labels.Select(l => (int)l).ToArray(), Enumerable.Range(0, result.Count).Select(result.Predicted).ToArray(), classNames);

    /// <summary>Per class; precision or recall of a class never predicted / never present is 0, as scikit-learn reports it.</summary>
    public IReadOnlyList<ClassScores> Scores()
    {
        int k = ClassNames.Count;
        var list = new List<ClassScores>();
        for (int c = 0; c < k; c++)
        {
            int tp = Counts[c, c], support = 0, predictedAs = 0;
            for (int j = 0; j < k; j++) { support += Counts[c, j]; predictedAs += Counts[j, c]; }
            double precision = predictedAs == 0 ? 0 : tp / (double)predictedAs;
            double recall = support == 0 ? 0 : tp / (double)support;
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            list.Add(new ClassScores(c, ClassNames[c], support, precision, recall, f1));
        }
        return list;
    }

    /// <summary>The off-diagonal cells, largest first.</summary>
    public IReadOnlyList<Confusion> TopConfusions(int count)
    {
        var list = new List<Confusion>();
        for (int t = 0; t < ClassNames.Count; t++)
            for (int p = 0; p < ClassNames.Count; p++)
                if (t != p && Counts[t, p] > 0) list.Add(new Confusion(ClassNames[t], ClassNames[p], Counts[t, p]));
        return list.OrderByDescending(c => c.Count).ThenBy(c => c.True, StringComparer.Ordinal).Take(count).ToList();
    }

    /// <summary>confusion_matrix.csv: a header "true\predicted" then the class names; one row per true class.</summary>
    public void WriteConfusionCsv(string path) => WriteCsv(path, csv =>
    {
        csv.WriteRecord(new[] { "true\\predicted" }.Concat(ClassNames).ToArray());
        for (int t = 0; t < ClassNames.Count; t++)
            csv.WriteRecord(new[] { ClassNames[t] }.Concat(Enumerable.Range(0, ClassNames.Count).Select(p => Counts[t, p].ToString(CultureInfo.InvariantCulture))).ToArray());
    });

    /// <summary>per_class.csv: class, name, support, precision, recall, f1.</summary>
    public void WritePerClassCsv(string path) => WriteCsv(path, csv =>
    {
        csv.WriteRecord(["class", "name", "support", "precision", "recall", "f1"]);
        foreach (var s in Scores())
            csv.WriteRecord([s.Class.ToString(CultureInfo.InvariantCulture), s.Name, s.Support.ToString(CultureInfo.InvariantCulture),
                F(s.Precision), F(s.Recall), F(s.F1)]);
    });

    private static string F(double v) => v.ToString("0.0000", CultureInfo.InvariantCulture);

    private static void WriteCsv(string path, Action<CsvWriter> write) => OutputFile.Write(path, stream =>
    {
        using var csv = CsvWriter.Create(stream, new CsvWriterOptions { NewLine = "\n" }, leaveOpen: true);
        write(csv);
        csv.Flush();
    });
}
