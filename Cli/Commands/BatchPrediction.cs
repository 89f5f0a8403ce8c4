using System.Globalization;
using FashionGpu.Kernels;
using FashionGpu.Training;
using FashionGpu.Training.Data;

namespace FashionGpu.Cli.Commands;

/// <summary>
/// <c>predict --images</c>: many PNGs classified in batches on the device, a row per file in the
/// order given. A file that cannot be decoded gets a row saying why and does not stop the others.
/// </summary>
public static class BatchPrediction
{
    /// <summary>The columns of --out FILE.csv.</summary>
    public static readonly string[] CsvHeader =
        ["file", "class", "probability", "class_2", "probability_2", "class_3", "probability_3", "error"];

    /// <summary>One file's answer: its three most likely classes, or why it was not classified.</summary>
    private sealed record Prediction(string File, (int Class, double Probability)[] Top, string? Error);

    /// <returns>0 when every file was classified, 1 when some were not.</returns>
    public static int Run(string modelPath, IEnumerable<string> paths, string? csvPath, Func<OpenedDevice> openDevice)
    {
        var files = ImageFiles(paths);
        if (csvPath is not null) OutputDirectory.CheckFile("--out", csvPath);
        var (network, state) = ModelOptions.LoadWeights(modelPath);
        var decoded = files.Select(PredictCommand.ReadPng).ToArray();
        var good = Enumerable.Range(0, files.Count).Where(i => decoded[i].Error is null).ToArray();
        EvaluationResult? result = null;
        if (good.Length > 0)
        {
            using var device = openDevice();
            var pixels = good.SelectMany(i => decoded[i].Pixels!).ToArray();
            result = Evaluator.Run(new KernelLibrary(device.Accelerator), network, state, new ImageSet(pixels, new byte[good.Length], 28, 28));
        }

        var predictions = new List<Prediction>();
        int next = 0;
        for (int i = 0; i < files.Count; i++)
        {
            if (decoded[i].Error is { } error)
            {
                predictions.Add(new Prediction(files[i], [], error));
                continue;
            }
            var p = result!.Probabilities(next++);
            predictions.Add(new Prediction(files[i], PredictCommand.Top(p, 3).Select(c => (c, p[c])).ToArray(), null));
        }

        if (csvPath is not null)
        {
            WriteCsv(csvPath, predictions);
            Console.WriteLine($"Wrote {csvPath}: {good.Length} of {files.Count} images classified.");
        }
        else
        {
            var table = new TextTable("file", "class", "probability", "top 3");
            foreach (var p in predictions)
            {
                if (p.Error is not null) table.Add(p.File, "-", "-", $"not classified: {p.Error}");
                else table.Add(p.File, Name(p.Top[0].Class), Percent(p.Top[0].Probability), string.Join(", ", p.Top.Select(t => $"{Name(t.Class)} {Percent(t.Probability)}")));
            }
            table.Write(Console.Out);
            Console.WriteLine($"{good.Length} of {files.Count} images classified.");
        }
        foreach (var p in predictions.Where(p => p.Error is not null)) Console.Error.WriteLine($"fashiongpu: {p.File}: {p.Error}");
        return good.Length == files.Count ? ExitCodes.Success : ExitCodes.Failure;
    }

    /// <summary>
    /// The files --images names: each file as given, each directory's *.png files sorted by name.
    /// A path that does not exist, or a directory without PNGs, is a usage error: nothing to classify there.
    /// </summary>
    public static List<string> ImageFiles(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                var pngs = Directory.EnumerateFiles(path).Where(f => f.EndsWith(".png", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
                if (pngs.Count == 0) throw new UsageException($"--images: {path} holds no .png files");
                files.AddRange(pngs);
            }
            else if (File.Exists(path)) files.Add(path);
            else throw new UsageException($"--images: {path} does not exist");
        }
        return files;
    }

    private static void WriteCsv(string path, IEnumerable<Prediction> predictions) => OutputFile.Write(path, stream =>
    {
        using var csv = CsvHelper.CsvWriter.Create(stream, new CsvHelper.CsvWriterOptions { NewLine = "\n" }, leaveOpen: true);
        csv.WriteRecord(CsvHeader);
        foreach (var p in predictions)
        {
            var cells = new List<string> { p.File };
            foreach (var (c, probability) in p.Top) cells.AddRange([Name(c), probability.ToString("R", CultureInfo.InvariantCulture)]);
            while (cells.Count < CsvHeader.Length - 1) cells.Add("");
            cells.Add(p.Error ?? "");
            csv.WriteRecord([.. cells]);
        }
        csv.Flush();
    });

    private static string Name(int c) => FashionMnist.ClassNames[c];

    private static string Percent(double p) => $"{p * 100:0.00}%";
}
