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
    }.OfType<string>();
}
