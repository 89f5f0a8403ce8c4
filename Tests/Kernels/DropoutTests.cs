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

    /// <summary>
    /// Known answers of the mask's hash, computed with a third, independent implementation of
    /// lowbias32 (Python, 32-bit masks): both the kernel's hash and the reference's must give them,
    /// so neither can drift (changing it would change every run's results).
    /// </summary>
    [TestCase(0u, 0u, 0u, 0x00000000u)]
    [TestCase(1u, 1u, 1u, 0xE6E72839u)]
    [TestCase(1234567u, 42u, 0u, 0x594BB226u)]
    [TestCase(1234567u, 42u, 999u, 0xE720BA59u)]
    [TestCase(77u, 123u, 1000002u, 0x595CFAD0u)]
    [TestCase(0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0x27D672E6u)]
    public void TheMaskHashGivesKnownAnswers(uint seed, uint step, uint index, uint hash)
    {
        Assert.That(CounterHash.Hash(seed, step, index), Is.EqualTo(hash), "the kernel's hash");
        double u = (hash >> 8) / 16777216.0;
        // The reference keeps an element exactly when its uniform u is at least p.
        Assert.That(FashionGpu.Kernels.Reference.ReferenceOps.DropoutKeeps(seed, step, index, u), Is.True, "kept at p = u");
        Assert.That(FashionGpu.Kernels.Reference.ReferenceOps.DropoutKeeps(seed, step, index, u + 1e-9), Is.False, "dropped just above u");
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
