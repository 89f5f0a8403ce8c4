using System.CommandLine;
using FashionGpu.Cli.Plots;
using FashionGpu.Kernels;
using ILGPU.Runtime;
using FashionGpu.Training;
using FashionGpu.Training.Checkpoints;
using FashionGpu.Training.Data;
using FashionGpu.Training.Model;
using FashionGpu.Training.Reports;

namespace FashionGpu.Cli.Commands;

/// <summary><c>fashiongpu evaluate</c>: test loss and accuracy of a saved model, overall and per class.</summary>
public static class EvaluateCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var devices = new DeviceOptions();
        var limitTest = Options.OptionalPositiveInt("--limit-test", "Use only the first N test samples.");
        var data = Options.DataDirectory();
        var output = new Option<string?>("--out", "-o") { Description = "Also write confusion_matrix.png/.csv, per_class.csv and sample_predictions.png into this directory.", HelpName = "DIR" };
        var command = new Command("evaluate", "Test loss and accuracy of a saved model, overall and per class (precision, recall, F1), and the most frequent confusions.")
        {
            model, devices.Accelerator, devices.Device, limitTest, data, output,
        };
        command.SetAction(parse => Run(parse, CommandLine.Interrupted));
        int Run(ParseResult parse, CancellationToken cancel)
        {
            string modelPath = parse.GetValue(model)!;
            var (network, state) = ModelOptions.LoadWeights(modelPath);
            string? outDir = parse.GetValue(output);
            if (outDir is not null) OutputDirectory.Ensure("--out", outDir);
            var (_, test, dataDir) = DataLoading.Load(parse.GetValue(data), download: false, cancel);
            if (parse.GetValue(limitTest) is { } n)
            {
                DataLoading.CheckLimit("--limit-test", n, test.Count, "test", dataDir);
                test = test.Take(n);
            }

            using var device = devices.Open(parse);
            var entry = device.Entry;
            var acc = device.Accelerator;
            Console.WriteLine($"Accelerator: {entry.Id} {entry.Name}");
            var result = Evaluator.Run(new KernelLibrary(acc), network, state, test);

            Console.WriteLine($"Model: {modelPath}");
            Console.WriteLine($"Test loss {result.Loss:0.0000}, accuracy {result.Accuracy:P2} ({result.Correct} of {result.Count})");
            Console.WriteLine();
            var report = outDir is not null
                ? RunPictures.WriteEvaluation(outDir, result, test)
                : ClassificationReport.From(result, FashionMnist.ClassNames);
            RunPictures.Print(report, Console.Out);
            if (outDir is not null) Console.WriteLine($"Wrote {outDir}/: {RunPictures.ConfusionPng}, {RunPictures.ConfusionCsv}, {RunPictures.PerClassCsv}, {RunPictures.SamplesPng}");
            return ExitCodes.Success;
        }
        return command;
    }
}

/// <summary>Loading a saved model and running it, shared by evaluate and predict.</summary>
public static class ModelOptions
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "A checkpoint: model.safetensors or best.safetensors from 'fashiongpu train', or a PyTorch state dict saved as safetensors (README).",
        HelpName = "FILE",
        Required = true,
    };

    public static (Model Model, ModelState State) LoadWeights(string path)
    {
        if (!File.Exists(path)) throw new UsageException(Directory.Exists(path) ? $"--model: {path} is a directory, not a file" : $"--model: {path} does not exist");
        return ModelCheckpoint.Load(path);
    }
}
