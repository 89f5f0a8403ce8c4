using FashionGpu.Kernels;
using FashionGpu.Kernels.Verification;
using NUnit.Framework;

namespace FashionGpu.Tests.Kernels;

/// <summary>The dropout mask's statistics and its reproducibility across runs and backends.</summary>
public sealed class DropoutTests
{
    private const int N = 1_000_003;

    public static IEnumerable<string> AllBackends => Backends.Names;

    private static float[] RunForward(KernelLibrary k, DropoutMask mask, float value = 1f)
    {
        using var dev = new DeviceScope(k.Accelerator);
        var vIn = dev.Upload(Enumerable.Repeat((double)value, N).ToArray());
        var vOut = dev.Allocate(N);
        k.Dropout.Forward(N, mask, vIn, vOut);
        return dev.Download(vOut);
    }

    [Test]
    public void KeptFractionIsWithinStatisticalBoundsOfOneMinusP([ValueSource(nameof(AllBackends))] string backend, [Values(0.25f, 0.5f, 0.9f)] float p)
    {
        var output = RunForward(Backends.Get(backend), new DropoutMask(2024u, 3u, p));
        int kept = output.Count(v => v != 0);
        double expected = N * (1 - p), sd = Math.Sqrt(N * p * (1 - p));
        Assert.That(Math.Abs(kept - expected), Is.LessThan(5 * sd), $"kept {kept} of {N}, expected {expected:0} +- {5 * sd:0}");
        Assert.That(output.Where(v => v != 0), Is.All.EqualTo(1f / (1f - p)), "kept values are scaled by 1/(1-p)");
    }

    [TestCaseSource(nameof(AllBackends))]
    public void ZeroProbabilityIsTheIdentity(string backend)
    {
        var output = RunForward(Backends.Get(backend), new DropoutMask(5u, 1u, 0f), value: 0.3f);
        Assert.That(output, Is.All.EqualTo(0.3f));
    }

    [TestCaseSource(nameof(AllBackends))]
    public void StepAndSeedChangeTheMaskButARepeatDoesNot(string backend)
    {
        var k = Backends.Get(backend);
        var a = RunForward(k, new DropoutMask(1u, 10u, 0.5f));
        Assert.That(RunForward(k, new DropoutMask(1u, 10u, 0.5f)), Is.EqualTo(a));
        int differentStep = a.Zip(RunForward(k, new DropoutMask(1u, 11u, 0.5f))).Count(t => t.First != t.Second);
        int differentSeed = a.Zip(RunForward(k, new DropoutMask(2u, 10u, 0.5f))).Count(t => t.First != t.Second);
        // Independent masks at p = 0.5 disagree on about half of the elements.
        Assert.That(differentStep, Is.InRange(N * 0.49, N * 0.51));
        Assert.That(differentSeed, Is.InRange(N * 0.49, N * 0.51));
    }

    [Test]
    public void SameSeedGivesTheSameMaskOnEveryBackend()
    {
        var mask = new DropoutMask(77u, 123u, 0.25f);
        var masks = Backends.Names.Select(b => RunForward(Backends.Get(b), mask)).ToList();
        Assert.That(masks, Has.Count.EqualTo(2));
        Assert.That(masks[1], Is.EqualTo(masks[0]));
    }
}
