using FashionGpu.Tests.Kernels;
using NUnit.Framework;

namespace FashionGpu.Tests;

/// <summary>
/// Runs once around the whole test assembly (it sits in the root namespace): the accelerators
/// are shared by the kernel, training and CLI tests and are released only after all of them.
/// </summary>
[SetUpFixture]
public sealed class TestRun
{
    [OneTimeTearDown]
    public void AfterAllTests() => Backends.DisposeAll();
}
