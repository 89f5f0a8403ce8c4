using System.Globalization;

namespace FashionGpu.Training;

/// <summary>
/// The valid range of every training setting, stated once: the CLI checks its flags with
/// these, and <c>--resume</c> checks the settings it reads back from a run's files with the
/// same rules. Each returns null, or one line that names the flag and what it accepts.
/// Values are judged as the kernels will see them: the learning rate in float32.
/// </summary>
public static class SettingRules
{
    public static string? AtLeastOne(string flag, long value) => value < 1 ? $"{flag} must be at least 1 (got {value})" : null;

    public static string? Fraction(string flag, double value) =>
        value >= 0 && value < 1 ? null : $"{flag} must be in [0, 1) (got {Text(value)})";

    /// <summary>The smallest positive normal float32 (2^-126); below it values are denormal, and GPUs may flush them to 0.</summary>
    public const float SmallestNormal = 1.17549435e-38f;

    public static string? LearningRate(string flag, double value)
    {
        if (!double.IsFinite(value) || value <= 0) return $"{flag} must be a finite number > 0 (got {Text(value)})";
        float asFloat = (float)value;
        if (float.IsInfinity(asFloat)) return $"{flag} {Text(value)} is infinite in float32, the precision the kernels use (largest {float.MaxValue:0.0e+0})";
        if (asFloat < SmallestNormal) return $"{flag} {Text(value)} is {(asFloat == 0 ? "0" : "denormal")} in float32, the precision the kernels use (smallest {SmallestNormal:0.0e+0})";
        return null;
    }

    /// <summary>Both dropout probabilities, in float32 as the kernels use them.</summary>
    public static string? Dropout(float first, float second) =>
        IsProbability(first) && IsProbability(second) ? null
            : $"--dropout must be two probabilities in [0, 1) separated by a comma, like 0.25,0.5 (got '{Text(first)},{Text(second)}')";

    public static bool IsProbability(float p) => p >= 0 && p < 1;

    public static string? Model(string name) => Training.Model.Presets.Find(name) is null
        ? $"--model must be one of {string.Join(", ", Training.Model.Presets.All.Select(p => p.Name))} (got '{name}')" : null;

    public static string? Schedule(string name) => LearningRateSchedule.Names.Contains(name)
        ? null : $"--lr-schedule must be one of {string.Join(", ", LearningRateSchedule.Names)} (got '{name}')";

    public static string? Warmup(int warmup, int epochs) => warmup < 0 || warmup > epochs
        ? $"--warmup-epochs must be in 0..{epochs} (the --epochs) (got {warmup})" : null;

    /// <summary>Decay is applied as p *= 1 - lr * decay in float32: the factor must stay in (0, 1].</summary>
    public static string? WeightDecay(double decay, double lr)
    {
        if (!double.IsFinite(decay) || decay < 0) return $"--weight-decay must be a finite number >= 0 (got {Text(decay)})";
        return (float)(1 - lr * decay) > 0 ? null : $"--weight-decay {Text(decay)} times --lr {Text(lr)} must be below 1 (each step scales the weights by 1 - lr * decay)";
    }

    public const int MaxShift = 13;

    public static string? Shift(int shift) => shift < 0 || shift > MaxShift ? $"--augment shift must be 0..{MaxShift} pixels (got {shift})" : null;

    /// <summary>What needs a validation set: keeping the best epoch for the test and early stopping.</summary>
    public static string? NeedsValidation(TrainingConfig c)
    {
        if (c.ValSplit > 0) return null;
        if (c.EarlyStop is not null) return "--early-stop needs a validation set (--val-split > 0)";
        return c.EvaluateWeights == "best" ? "--evaluate best needs a validation set (--val-split > 0)" : null;
    }

    public static string? Evaluate(string which) => which is "best" or "last" ? null : $"--evaluate must be best or last (got '{which}')";

    private static string Text(double v) => v.ToString(CultureInfo.InvariantCulture).Replace('E', 'e');

    /// <summary>Every problem of <paramref name="config"/>, in flag terms; empty when every setting is valid.</summary>
    public static IEnumerable<string> Problems(TrainingConfig config) => new[]
    {
        AtLeastOne("--epochs", config.Epochs),
        AtLeastOne("--batch-size", config.BatchSize),
        LearningRate("--lr", config.LearningRate),
        Fraction("--val-split", config.ValSplit),
        Dropout(config.Dropout1, config.Dropout2),
        config.LimitTrain is { } train ? AtLeastOne("--limit-train", train) : null,
        config.LimitTest is { } test ? AtLeastOne("--limit-test", test) : null,
        Model(config.Model),
        Schedule(config.LrSchedule),
        Warmup(config.WarmupEpochs, config.Epochs),
        WeightDecay(config.WeightDecay, config.LearningRate),
        Shift(config.AugmentShift),
        config.EarlyStop is { } patience ? AtLeastOne("--early-stop", patience) : null,
        Evaluate(config.EvaluateWeights),
        NeedsValidation(config),
    }.OfType<string>();
}
