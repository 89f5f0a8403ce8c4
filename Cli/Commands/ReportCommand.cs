using System.CommandLine;
using FashionGpu.Cli.Plots;
using FashionGpu.Training;

namespace FashionGpu.Cli.Commands;

/// <summary><c>fashiongpu report</c>: compares runs from their metrics.csv logs, as a table and one overlaid picture.</summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var runs = new Argument<string[]>("RUN_DIR_OR_CSV")
        {
            Description = "Run directories (holding metrics.csv) or metrics.csv files.",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Where to write the overlaid curves.",
            DefaultValueFactory = _ => "report.png",
            HelpName = "FILE.png",
        };
        var command = new Command("report", "Compare runs from their metrics.csv: best validation accuracy and its epoch, final losses, mean samples/s, total time, accelerator; and one PNG with every run's curves overlaid.")
        {
            runs, output,
        };
        command.SetAction(parse =>
        {
            string png = parse.GetValue(output)!;
            OutputDirectory.CheckFile("--output", png);
            var files = new List<MetricsFile>();
            foreach (var arg in parse.GetValue(runs)!)
            {
                string path = Directory.Exists(arg) ? Path.Combine(arg, MetricsLog.FileName) : arg;
                if (!File.Exists(path)) throw new UsageException(Directory.Exists(arg) ? $"{arg}: no {MetricsLog.FileName} in this directory" : $"{arg}: no such file or directory");
                var file = MetricsReader.Read(path);
                foreach (var w in file.Warnings) Console.Error.WriteLine($"fashiongpu: warning: {w}");
                files.Add(file);
            }

            var table = new TextTable("run", "epochs", "best val acc", "at epoch", "final train loss", "final val loss", "mean samples/s", "total s", "accelerator");
            foreach (var f in files)
            {
                var e = f.Epochs;
                if (e.Count == 0) { table.Add(RunName(f.Path), 0, "-", "-", "-", "-", "-", "-", "-"); continue; }
                var best = e.Where(m => m.ValAccuracy is not null).MaxBy(m => m.ValAccuracy!.Value);
                table.Add(RunName(f.Path), e.Count,
                    best is null ? "-" : $"{best.ValAccuracy:P2}", best is null ? "-" : best.Epoch.ToString(),
                    e[^1].TrainLoss.ToString("0.0000"), e[^1].ValLoss?.ToString("0.0000") ?? "-",
                    e.Average(m => m.SamplesPerSecond).ToString("0"), e.Sum(m => m.EpochSeconds).ToString("0.0"),
                    string.Join(" ", e.Select(m => m.Accelerator).Distinct()));
            }
            table.Write(Console.Out);

            ComparisonPlot.Save(png, files.Select(f => (RunName(f.Path), f.Epochs)).ToList());
            Console.WriteLine($"Wrote {png}");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>A run is named by its directory (runs/lr-1e-3/metrics.csv is "lr-1e-3").</summary>
    public static string RunName(string csvPath)
    {
        string full = Path.GetFullPath(csvPath);
        return Path.GetFileName(full) == MetricsLog.FileName ? Path.GetFileName(Path.GetDirectoryName(full)) ?? full : Path.GetFileNameWithoutExtension(full);
    }
}
