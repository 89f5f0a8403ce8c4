using System.Globalization;
using CsvHelper;

namespace FashionGpu.Training;

/// <summary>A metrics.csv that cannot be read; the message is one line naming the file, line and column.</summary>
public sealed class MetricsFileException(string message) : Exception(message);

/// <summary>The epochs of one metrics.csv, and what was skipped on the way.</summary>
public sealed record MetricsFile(string Path, IReadOnlyList<EpochMetrics> Epochs, IReadOnlyList<string> Warnings);

/// <summary>Reads metrics.csv files back (for <c>fashiongpu report</c> and for resuming).</summary>
public static class MetricsReader
{
    private static readonly string[] Columns =
        ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_seconds", "samples_per_second", "accelerator"];

    /// <summary>
    /// Every complete row. Rows end with a newline when written, so a last line without one is
    /// a row still being written (or torn by a kill): it is skipped with a warning, not fatal.
    /// </summary>
    public static MetricsFile Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MetricsFileException($"{path}: cannot read: {e.Message}");
        }
        var warnings = new List<string>();
        int lastNewline = text.LastIndexOf('\n');
        if (lastNewline < text.Length - 1)
        {
            int line = text.AsSpan(0, lastNewline + 1).Count('\n') + 1;
            if (line > 1) warnings.Add($"{path}: line {line} is incomplete (a run still writing, or cut off); skipped");
            text = text[..(lastNewline + 1)];
        }
        if (text.Length == 0) throw new MetricsFileException($"{path}: empty file, expected a header line");

        using var csv = CsvReader.FromText(text, new CsvReaderOptions { Separator = ',', TrackLineNumbers = true });
        csv.ReadHeader();
        var header = csv.Headers.ToList();
        foreach (var column in Columns)
            if (!header.Contains(column)) throw new MetricsFileException($"{path}: line 1: column '{column}' is missing from the header");
        var rows = new List<EpochMetrics>();
        while (csv.Read())
        {
            long line = csv.LineNumber;
            double Number(string column, bool optional = false)
            {
                string s = csv.GetString(column);
                if (optional && s.Length == 0) return double.NaN;
                if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                    throw new MetricsFileException($"{path}: line {line}: column '{column}': '{s}' is not a number");
                return v;
            }
            double epoch = Number("epoch");
            if (epoch != Math.Floor(epoch) || epoch < 1) throw new MetricsFileException($"{path}: line {line}: column 'epoch': '{csv.GetString("epoch")}' is not an epoch number");
            double valLoss = Number("val_loss", optional: true), valAccuracy = Number("val_accuracy", optional: true);
            rows.Add(new EpochMetrics((int)epoch, Number("train_loss"), Number("train_accuracy"),
                double.IsNaN(valLoss) ? null : valLoss, double.IsNaN(valAccuracy) ? null : valAccuracy,
                Number("learning_rate"), Number("epoch_seconds"), Number("samples_per_second"), csv.GetString("accelerator")));
        }
        return new MetricsFile(path, rows, warnings);
    }
}
