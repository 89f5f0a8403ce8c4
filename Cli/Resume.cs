using System.Text.Json;
using FashionGpu.Training;
using FashionGpu.Training.Checkpoints;
using FashionGpu.Training.Model;

namespace FashionGpu.Cli;

/// <summary>
/// How <c>train --resume DIR</c> continues: the run's settings and device, and the checkpoint
/// to start from (null: no epoch was completed, so the run starts again from epoch 1).
/// </summary>
public sealed record ResumePlan(TrainingConfig Config, string Accelerator, ResumePoint? Point, string SettingsFile)
{
    public int CompletedEpochs => Point?.CompletedEpochs ?? 0;
}

/// <summary>Reads what <c>train --resume DIR</c> needs from DIR's checkpoint, or from run.json before the first checkpoint.</summary>
public static class Resume
{
    /// <param name="epochs">A new epoch count, when the user gave --epochs.</param>
    public static ResumePlan Load(string dir, int? epochs)
    {
        if (!Directory.Exists(dir)) throw new UsageException($"--resume: {dir} is not a directory");
        string model = Path.Combine(dir, TrainingRun.ModelFile), settings = Path.Combine(dir, TrainingRun.RunFile);
        ResumePlan plan;
        if (File.Exists(model))
        {
            var (_, state) = ModelCheckpoint.Load(model, requireOptimizer: true);
            var config = Parse<TrainingConfig>(state.Metadata.GetValueOrDefault("config"));
            long? completed = state.MetadataLong("epoch"), step = state.MetadataLong("step");
            if (config is null || completed is not > 0 || step is not > 0 || !state.Metadata.TryGetValue("accelerator", out var accelerator))
                throw new CheckpointFileException($"{model}: its metadata lacks a valid config, epoch, step or accelerator, so the run cannot be resumed");
            plan = new ResumePlan(config, accelerator, new ResumePoint(state, (int)completed, step.Value), model);
        }
        else if (File.Exists(settings))
        {
            var saved = Parse<TrainingRun.RunSettings>(TryRead(settings));
            if (saved?.Config is null || string.IsNullOrEmpty(saved.Accelerator))
                throw new UsageException($"{settings}: not a valid run file (it needs a config and an accelerator), so the run cannot be resumed");
            plan = new ResumePlan(saved.Config, saved.Accelerator, null, settings);
        }
        else
        {
            throw new UsageException($"--resume: {dir} holds no run to resume (neither {TrainingRun.ModelFile} nor {TrainingRun.RunFile}); start a new run instead");
        }

        // What was read back gets the same checks as the flags it came from.
        if (SettingRules.Problems(plan.Config).FirstOrDefault() is { } problem)
            throw new UsageException($"{plan.SettingsFile}: a saved setting is invalid: {problem}");
        if (epochs is { } e)
        {
            if (e < plan.CompletedEpochs)
                throw new UsageException($"--epochs {e} is fewer than the {plan.CompletedEpochs} epochs {dir} already completed");
            plan = plan with { Config = plan.Config with { Epochs = e } };
        }
        if (plan.CompletedEpochs >= plan.Config.Epochs && File.Exists(Path.Combine(dir, TrainingRun.SummaryFile)))
            throw new UsageException($"--resume: {dir} already completed {plan.CompletedEpochs} of {plan.Config.Epochs} epochs; pass --epochs N with N > {plan.CompletedEpochs} to train further; fashiongpu export --model FILE writes a checkpoint's ONNX file");
        return plan;
    }

    private static T? Parse<T>(string? json) where T : class
    {
        if (json is null) return null;
        try
        {
            return JsonSerializer.Deserialize<T>(json, TrainingRun.JsonOptions);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{path}: cannot read: {e.Message}");
        }
    }
}
