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
