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
/// metrics.csv, written with CsvHelper: a header, then one row per epoch, flushed to disk at
/// the end of every epoch so a killed run keeps every completed epoch.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    public const string FileName = "metrics.csv";
    private readonly FileStream stream;
    private readonly CsvWriter writer;

    /// <summary>Creates the file (with its header), or appends to it when <paramref name="append"/>.</summary>
    public MetricsLog(string path, bool append)
    {
        bool writeHeader = !append || !File.Exists(path) || new FileInfo(path).Length == 0;
        stream = new FileStream(path, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read);
        writer = CsvWriter.Create(stream, new CsvWriterOptions { NewLine = "\n" }, leaveOpen: true);
        if (writeHeader)
        {
            writer.WriteHeader<EpochMetrics>();
            Flush();
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
            notes.Add($"{path}: dropped {lines.Count - kept.Count} row(s) after epoch {completedEpochs}, the last epoch in the checkpoint");
        if (notes.Count > 0) AtomicFile.WriteAllText(path, string.Concat(kept.Select(l => l + "\n")));
        return notes;
    }

    public void Append(EpochMetrics row)
    {
        writer.WriteRecord(row);
        Flush();
    }

    private void Flush()
    {
        writer.Flush();
        stream.Flush(flushToDisk: true);
    }

    public void Dispose()
    {
        writer.Dispose();
        stream.Dispose();
    }
}
