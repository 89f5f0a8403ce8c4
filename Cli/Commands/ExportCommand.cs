using System.CommandLine;
using FashionGpu.Training.Export;

namespace FashionGpu.Cli.Commands;

/// <summary><c>fashiongpu export</c>: a checkpoint's inference graph as an ONNX model, for ONNX Runtime, ML.NET, browsers and phones.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var model = ModelOptions.Model();
        var output = new Option<string?>("--out", "-o") { Description = "The ONNX file to write (default: the checkpoint's path with .onnx).", HelpName = "FILE.onnx" };
        var force = new Option<bool>("--force") { Description = "Replace the output file if it exists." };
        var command = new Command("export", "Write a checkpoint's model as ONNX: input image [N,1,28,28] (pixels / 255), outputs logits and probabilities [N,10], class names in the metadata.")
        {
            model, output, force,
        };
        command.SetAction(parse =>
        {
            string modelPath = parse.GetValue(model)!;
            var (network, state) = ModelOptions.LoadWeights(modelPath);
            string? given = parse.GetValue(output);
            string outPath = given ?? Path.ChangeExtension(modelPath, ".onnx");
            // Errors about the output name the default path when --out was not given.
            string flag = given is null ? $"--out (default {outPath})" : "--out";
            OutputDirectory.CheckFile(flag, outPath);
            if (Path.GetFullPath(outPath) == Path.GetFullPath(modelPath)) throw new UsageException($"{flag}: {outPath} is the checkpoint itself");
            if (File.Exists(outPath) && !parse.GetValue(force)) throw new UsageException($"{flag}: {outPath} exists; pass --force to replace it");
            Onnx.ModelProto proto;
            try
            {
                proto = OnnxExport.Build(network, state);
            }
            catch (OnnxExportException e)
            {
                throw new UsageException($"--model: {modelPath}: cannot export: {e.Message}");
            }
            OnnxExport.Write(outPath, proto);
            Console.WriteLine(OnnxExport.Describe(outPath, network, proto));
            return ExitCodes.Success;
        });
        return command;
    }
}
