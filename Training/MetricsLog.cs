using CsvHelper;

namespace FashionGpu.Training;

/// <summary>One row of metrics.csv: one epoch.</summary>
[CsvRecord]
public sealed partial record EpochMetrics(
    [CsvColumn("epoch")] int Epoch,
    [CsvColumn("train_loss")] double TrainLoss,
    [CsvColumn("train_accuracy")] double TrainAccuracy,
    [CsvColumn("val_loss")] double? ValLoss,
    [CsvColumn("val_accuracy")] double? ValAccuracy,
    [CsvColumn("learning_rate")] double LearningRate,
    [CsvColumn("epoch_seconds")] double EpochSeconds,
    [CsvColumn("samples_per_second")] double SamplesPerSecond,
    [CsvColumn("accelerator")] string Accelerator);

/// <summary>
/// metrics.csv, written with CsvHelper: a header, then one row per epoch. Every row replaces
/// the whole file through <see cref="OutputFile"/>, so the file on disk always holds every
/// completed epoch and never a torn row, whenever the run is killed or the disk fills.
/// </summary>
public sealed class MetricsLog
{
    public const string FileName = "metrics.csv";
    private readonly string path;
    private readonly System.Text.StringBuilder text = new();

    /// <summary>Creates the file (with its header), or continues the rows already in it when <paramref name="append"/>.</summary>
    public MetricsLog(string path, bool append)
    {
        this.path = path;
        if (append && File.Exists(path)) text.Append(File.ReadAllText(path));
        if (text.Length == 0)
        {
            text.Append(Format(csv => csv.WriteHeader<EpochMetrics>()));
            OutputFile.WriteAllText(path, text.ToString());
        }
    }

    /// <summary>
    /// Makes metrics.csv agree with a checkpoint of <paramref name="completedEpochs"/> epochs
    /// before a run resumes: an unterminated last line (torn by a kill) and rows of epochs after
    /// the checkpoint are removed. Returns what was changed, for the user.
    /// </summary>
    public static IReadOnlyList<string> TrimForResume(string path, int completedEpochs)
    {
        var notes = new List<string>();
        if (!File.Exists(path)) return notes;
        string text = File.ReadAllText(path);
        int end = text.LastIndexOf('\n') + 1;
        if (end < text.Length) notes.Add($"{path}: dropped an incomplete last line (the run was cut off while writing it)");
        var lines = text[..end].Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        var kept = lines.Take(1).Concat(lines.Skip(1).Where(line =>
            !int.TryParse(line.Split(',')[0], System.Globalization.CultureInfo.InvariantCulture, out int epoch) || epoch <= completedEpochs)).ToList();
        if (kept.Count < lines.Count)
            notes.Add(completedEpochs == 0
                ? $"{path}: dropped {lines.Count - kept.Count} row(s) of epochs whose checkpoint was never written"
                : $"{path}: dropped {lines.Count - kept.Count} row(s) after epoch {completedEpochs}, the last epoch in the checkpoint");
        if (notes.Count > 0) OutputFile.WriteAllText(path, string.Concat(kept.Select(l => l + "\n")));
        return notes;
    }

    public void Append(EpochMetrics row)
    {
        string line = Format(csv => csv.WriteRecord(row));
        OutputFile.WriteAllText(path, text + line);
        text.Append(line);
    }

    private static string Format(Action<CsvWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var csv = CsvWriter.Create(buffer, new CsvWriterOptions { NewLine = "\n" }, leaveOpen: true))
        {
            write(csv);
            csv.Flush();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
