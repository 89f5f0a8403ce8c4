using System.CommandLine;
using System.Globalization;
using FashionGpu.Training;
using FashionGpu.Training.Model;

namespace FashionGpu.Cli.Commands;

/// <summary><c>fashiongpu summary</c>: a model's layers, output shapes, parameter counts and FLOPs, as Keras' model.summary() prints them, and its recipe.</summary>
public static class SummaryCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model")
        {
            Description = $"The model preset: {string.Join(", ", Presets.All.Select(p => p.Name))}.",
            DefaultValueFactory = _ => Presets.Default,
            HelpName = "NAME",
        };
        model.Validators.Add(r => { if (Options.TryGet<string>(r, out var v) && SettingRules.Model(v) is { } problem) r.AddError(problem); });
        var command = new Command("summary", "Print a model preset's layers (output shape, parameters, FLOPs per sample) and its default training recipe.") { model };
        command.SetAction(parse =>
        {
            var preset = Presets.Find(parse.GetValue(model)!)!;
            var recipe = preset.Recipe(new TrainingConfig { Model = preset.Name });
            Write(preset, recipe, Console.Out);
            return ExitCodes.Success;
        });
        return command;
    }

    public static void Write(ModelPreset preset, TrainingConfig recipe, TextWriter output)
    {
        var m = preset.Build(recipe);
        output.WriteLine($"Model {preset.Name}: {preset.Description}");
        var table = new TextTable("layer", "kind", "output shape", "parameters", "MFLOPs/sample");
        table.Add("input", "", $"[{Model.ImageShape.Channels}, {Model.ImageShape.Height}, {Model.ImageShape.Width}]", "0", "0");
        foreach (var l in m.Layers)
        {
            long parameters = l.Parameters.Sum(p => (long)p.Shape.Aggregate(1, (a, b) => a * b));
            string detail = l.ReluOutput ? $"{l.Kind} + ReLU" : l.Kind;
            var o = l.Nominal;
            string shape = o.Height == 1 && o.Width == 1 ? $"[{o.Channels}]" : $"[{o.Channels}, {o.Height}, {o.Width}]";
            // A layer that computes less than PyTorch's shape because nothing reads the rest.
            if (l.Output != o) shape += $" ({l.Output.Height}x{l.Output.Width} computed)";
            table.Add(l.Name, detail, shape, parameters.ToString("N0", CultureInfo.InvariantCulture), Mflops(l.MultiplyAdds));
        }
        table.Write(output);
        long trainable = m.Parameters.Count, buffers = m.Buffers.Count;
        output.WriteLine($"Trainable parameters: {trainable.ToString("N0", CultureInfo.InvariantCulture)} ({4.0 * trainable / 1e6:0.00} MB as float32); buffers (not trained): {buffers.ToString("N0", CultureInfo.InvariantCulture)}");
        output.WriteLine($"Forward pass: {Mflops(m.MultiplyAdds)} MFLOPs per sample; training step: {Mflops(m.TrainingMultiplyAdds)} MFLOPs per sample (2 FLOPs per multiply-add)");
        string augment = recipe.AugmentShift > 0 || recipe.AugmentFlip
            ? string.Join(",", new[] { recipe.AugmentShift > 0 ? $"shift={recipe.AugmentShift}" : null, recipe.AugmentFlip ? "flip" : null }.OfType<string>()) : "none";
        string earlyStop = recipe.EarlyStop is { } p ? $" --early-stop {p}" : "";
        output.WriteLine(FormattableString.Invariant(
            $"Recipe: --epochs {recipe.Epochs} --batch-size {recipe.BatchSize} --lr {recipe.LearningRate} --lr-schedule {recipe.LrSchedule} --warmup-epochs {recipe.WarmupEpochs} --weight-decay {recipe.WeightDecay} --dropout {recipe.Dropout1},{recipe.Dropout2} --augment {augment} --evaluate {recipe.EvaluateWeights}{earlyStop}"));
    }

    private static string Mflops(long multiplyAdds) => (2 * multiplyAdds / 1e6).ToString("0.00", CultureInfo.InvariantCulture);
}
