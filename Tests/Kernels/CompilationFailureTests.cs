using FashionGpu.Kernels;
using ILGPU;
using NUnit.Framework;

namespace FashionGpu.Tests.Kernels;

/// <summary>A driver that rejects a kernel: the error carries the driver's own build log.</summary>
public sealed class CompilationFailureTests
{
    [Test]
    public void AKernelPoclRejectsReportsTheDriversBuildLog()
    {
        // At O1 ILGPU emits __generic casts that PoCL's compiler rejects (README, "Devices").
        using var catalog = new DeviceCatalog(OptimizationLevel.O1);
        var device = catalog.Devices.FirstOrDefault(d => d.Kind == AcceleratorKind.OpenCL && d.Name.Contains("Portable Computing Language"));
        if (device is null)
        {
            if (Backends.OpenClRequired) Assert.Fail("PoCL is required here (CI installs it)");
            Assert.Ignore("needs PoCL, whose compiler rejects ILGPU's O1 output");
        }
        using var accelerator = catalog.Create(device!);
        var e = Assert.Throws<KernelCompilationException>(() => _ = new KernelLibrary(accelerator))!;
        Assert.That(e.Message, Does.StartWith("the kernels did not compile on "));
        Assert.That(e.Message, Does.Contain("CL_BUILD_PROGRAM_FAILURE").And.Contain("__generic"), "the driver's log, not just an error code");
        Assert.That(e.Message, Does.Not.Contain("\n"), "one line");
    }
}
