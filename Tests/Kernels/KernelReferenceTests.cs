using FashionGpu.Kernels.Verification;
using FashionGpu.Kernels;
using NUnit.Framework;

namespace FashionGpu.Tests.Kernels;

/// <summary>
/// Every kernel, forward and backward, against the double-precision C# reference on every
/// backend: the same checks as 'fashiongpu selftest' (odd shapes and the training shapes),
/// with <see cref="CheckResult.Rule"/>. The GEMM-shaped
/// kernels (convolution, dense) run once per variant on each backend, so a variant that
/// only one kind of device picks by default is still checked on both.
/// </summary>
public sealed class KernelReferenceTests
{
    public static IEnumerable<TestCaseData> Cases() =>
        from backend in Backends.Names
        from check in KernelChecks.Standard()
        select new TestCaseData(backend, check).SetName($"{backend}: {check}");

    public static IEnumerable<TestCaseData> GemmCases() =>
        from pair in Backends.All
        from check in KernelChecks.Standard().Where(c => c.Name is "conv2d" or "dense")
        select new TestCaseData(pair.Backend, pair.Variant, check).SetName($"{pair.Backend} {pair.Variant}: {check}");

    [TestCaseSource(nameof(Cases))]
    public void MatchesReference(string backend, KernelCheck check) => AssertPasses(check, Backends.Get(backend));

    [TestCaseSource(nameof(GemmCases))]
    public void GemmVariantMatchesReference(string backend, GemmVariant variant, KernelCheck check)
    {
        var kernels = Backends.Get(backend, variant);
        Assert.That(kernels.Policy.Gemm, Is.EqualTo(variant));
        AssertPasses(check, kernels);
    }

    private static void AssertPasses(KernelCheck check, KernelLibrary kernels)
    {
        var results = check.Run(kernels);
        Assert.That(results, Is.Not.Empty);
        var failures = results.Where(r => !r.Passed).Select(r => $"{r.Kernel} {r.Shape}: max abs {r.MaxAbsError:g3} against max |reference| {r.Scale:g3}: {r.WorstRatio:0.00} x the tolerance");
        Assert.That(failures, Is.Empty);
    }
}
