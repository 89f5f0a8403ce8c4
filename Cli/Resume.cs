using System.Text.Json;
using FashionGpu.Training;
using FashionGpu.Training.Checkpoints;
using FashionGpu.Training.Model;

namespace FashionGpu.Cli;

/// <summary>Reads what <c>train --resume DIR</c> needs from DIR's checkpoint.</summary>
public static class Resume
{
    /// <param name="epochs">A new epoch count, when the user gave --epochs.</param>
    public static (TrainingConfig Config, ResumePoint Point) Load(string dir, int? epochs)
    {
        if (!Directory.Exists(dir)) throw new UsageException($"--resume: {dir} is not a directory");
        string path = Path.Combine(dir, TrainingRun.ModelFile);
        if (!File.Exists(path))
            throw new UsageException($"--resume: {dir} has no {TrainingRun.ModelFile} (no epoch was completed there); start a new run instead");
        var state = ModelCheckpoint.Load(path, ParameterLayout.Seed, requireOptimizer: true);
        TrainingConfig? config = null;
        try
        {
            if (state.Metadata.TryGetValue("config", out var json)) config = JsonSerializer.Deserialize<TrainingConfig>(json, TrainingRun.JsonOptions);
        }
        catch (JsonException) { }
        long? completed = state.MetadataLong("epoch"), step = state.MetadataLong("step");
        if (config is null || completed is not > 0 || step is not > 0)
            throw new CheckpointFileException($"{path}: its metadata lacks a valid config, epoch or step, so the run cannot be resumed");
        if (epochs is { } e) config = config with { Epochs = e };
        if (completed >= config.Epochs)
            throw new UsageException($"--resume: {dir} already completed {completed} of {config.Epochs} epochs; pass --epochs N with N > {completed} to train further");
        return (config, new ResumePoint(state, (int)completed, step.Value));
    }
}
