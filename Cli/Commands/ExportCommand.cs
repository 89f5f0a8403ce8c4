using System.CommandLine;
using System.Globalization;
using FashionGpu.Training.Export;
using FashionGpu.Training.Checkpoints;

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
            string outPath = parse.GetValue(output) ?? Path.ChangeExtension(modelPath, ".onnx");
            OutputDirectory.CheckFile("--out", outPath);
            if (File.Exists(outPath) && !parse.GetValue(force))
                throw new UsageException($"--out: {outPath} exists; pass --force to replace it");
            var (network, state) = ModelOptions.LoadWeights(modelPath);
            var info = Write(modelPath, network, state, outPath);
            Console.WriteLine(info);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Exports <paramref name="state"/> to <paramref name="outPath"/> (whole or not at all); returns a line saying what was written.</summary>
    public static string Write(string modelPath, Training.Model.Model network, ModelState state, string outPath)
    {
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
        long bytes = new FileInfo(outPath).Length;
        return string.Create(CultureInfo.InvariantCulture,
            $"Wrote {outPath}: model {network.Name}, {proto.Graph.Node.Count} nodes, {network.Parameters.Count:N0} parameters, {bytes / 1e6:0.00} MB; " +
            $"ONNX IR {OnnxExport.IrVersion}, opset {OnnxExport.Opset}; input {OnnxExport.InputName} [N,1,28,28], outputs {OnnxExport.LogitsName} and {OnnxExport.ProbabilitiesName} [N,10]");
    }
}
