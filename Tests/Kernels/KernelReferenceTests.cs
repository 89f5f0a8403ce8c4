using FashionGpu.Kernels.Verification;
using NUnit.Framework;

namespace FashionGpu.Tests.Kernels;

/// <summary>
/// Every kernel, forward and backward, against the double-precision C# reference on every
/// backend: the same checks as 'fashiongpu selftest' (odd shapes and the training shapes),
/// with |kernel - reference| &lt;= 1e-4 * max(1, |reference|) per element.
/// </summary>
public sealed class KernelReferenceTests
{
    public static IEnumerable<TestCaseData> Cases() =>
        from backend in Backends.Names
        from check in KernelChecks.Standard()
        select new TestCaseData(backend, check).SetName($"{backend}: {check}");

    [TestCaseSource(nameof(Cases))]
    public void MatchesReference(string backend, KernelCheck check)
    {
        var results = check.Run(Backends.Get(backend));
        Assert.That(results, Is.Not.Empty);
        var failures = results.Where(r => !r.Passed).Select(r => $"{r.Kernel} {r.Shape}: max abs {r.MaxAbsError:g3}, max rel {r.MaxRelError:g3}");
        Assert.That(failures, Is.Empty);
    }
}
