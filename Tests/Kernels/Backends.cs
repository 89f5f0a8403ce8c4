using FashionGpu.Kernels;
using ILGPU.Runtime;
using NUnit.Framework;

namespace FashionGpu.Tests.Kernels;

/// <summary>
/// The accelerators the kernel tests run on, created once per test run with their kernels
/// compiled once. The CPU accelerator is always there. OpenCL is required in CI (which
/// installs PoCL) and whenever FASHIONGPU_REQUIRE_OPENCL=1: there a missing device fails the
/// test instead of skipping it; elsewhere the skip says why.
/// </summary>
[SetUpFixture]
public sealed class Backends
{
    public static readonly string[] Names = ["cpu", "opencl"];

    private static readonly Lazy<DeviceCatalog> catalog = new(() => new DeviceCatalog());
    private static readonly Dictionary<string, (Accelerator Accelerator, KernelLibrary Kernels)> opened = [];

    public static bool OpenClRequired =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")) || Environment.GetEnvironmentVariable("FASHIONGPU_REQUIRE_OPENCL") == "1";

    public static DeviceCatalog Catalog => catalog.Value;

    /// <summary>The kernels for a backend, or the test is failed (required) or ignored (optional) with the reason.</summary>
    public static KernelLibrary Get(string name)
    {
        lock (opened)
        {
            if (opened.TryGetValue(name, out var entry)) return entry.Kernels;
            DeviceEntry.TryParseKind(name, out var kind);
            var device = Catalog.Devices.FirstOrDefault(d => d.Kind == kind);
            if (device is null)
            {
                string why = $"no {name} device on this machine (install pocl-opencl-icd for OpenCL on the CPU)";
                if (OpenClRequired) Assert.Fail(why + "; CI requires it");
                Assert.Ignore(why);
            }
            var accelerator = Catalog.Create(device!);
            var kernels = new KernelLibrary(accelerator);
            opened[name] = (accelerator, kernels);
            return kernels;
        }
    }

    [OneTimeTearDown]
    public void DisposeAll()
    {
        foreach (var (accelerator, _) in opened.Values) accelerator.Dispose();
        opened.Clear();
        if (catalog.IsValueCreated) catalog.Value.Dispose();
    }
}
