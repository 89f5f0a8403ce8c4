using FashionGpu.Training;
using NUnit.Framework;

namespace FashionGpu.Tests.Interop;

/// <summary>Another runtime's logits for the same images against FashionGpu's evaluation of them.</summary>
public static class InteropAssert
{
    public const float LogitTolerance = 1e-4f;

    /// <summary>
    /// Every logit within <see cref="LogitTolerance"/>, and so the same predicted class and
    /// accuracy, except for an image whose top two logits are themselves closer than the two
    /// runtimes may differ (a near tie either may break its own way).
    /// </summary>
    public static void SameLogits(float[] theirs, EvaluationResult ours, string who, string context)
    {
        Assert.That(theirs, Has.Length.EqualTo(ours.Logits.Length));
        int worst = Enumerable.Range(0, theirs.Length).MaxBy(i => Math.Abs(theirs[i] - ours.Logits[i]));
        TestContext.Out.WriteLine($"{context}: largest logit difference, {who} against FashionGpu, {ours.Count} images: {Math.Abs(theirs[worst] - ours.Logits[worst]):E2}");
        Assert.That(Math.Abs(theirs[worst] - ours.Logits[worst]), Is.LessThanOrEqualTo(LogitTolerance),
            $"logit {worst % 10} of image {worst / 10}: {who} {theirs[worst]}, FashionGpu {ours.Logits[worst]}");
        var differing = Enumerable.Range(0, ours.Count).Where(i => ArgMax(theirs.AsSpan(10 * i, 10)) != ours.Predicted(i)).ToList();
        Assert.That(differing.Where(i => TopTwoGap(ours.Logits.AsSpan(10 * i, 10)) > 2 * LogitTolerance), Is.Empty,
            $"{who} predicts another class than FashionGpu for an image that is no near tie");
        int correct = Enumerable.Range(0, ours.Count).Count(i => ArgMax(theirs.AsSpan(10 * i, 10)) == ours.Labels[i]);
        Assert.That(correct, Is.EqualTo(ours.Correct).Within(differing.Count), "the same accuracy");
    }

    public static int ArgMax(ReadOnlySpan<float> z)
    {
        int best = 0;
        for (int k = 1; k < z.Length; k++) if (z[k] > z[best]) best = k;
        return best;
    }

    private static float TopTwoGap(ReadOnlySpan<float> z)
    {
        var sorted = z.ToArray().OrderDescending().ToArray();
        return sorted[0] - sorted[1];
    }
}
