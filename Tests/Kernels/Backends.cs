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
public static class Backends
{
    public static readonly string[] Names = ["cpu", "opencl"];

    /// <summary>Every GEMM variant; each is checked on every backend, whichever the backend would pick.</summary>
    public static readonly GemmVariant[] Variants = Enum.GetValues<GemmVariant>();

    /// <summary>Every (backend, variant) pair.</summary>
    public static IEnumerable<(string Backend, GemmVariant Variant)> All =>
        from name in Names from variant in Variants select (name, variant);

    private static readonly Lazy<DeviceCatalog> catalog = new(() => new DeviceCatalog());
    private static readonly Dictionary<string, Accelerator> opened = [];
    private static readonly Dictionary<(string, GemmVariant?), KernelLibrary> libraries = [];

    public static bool OpenClRequired =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")) || Environment.GetEnvironmentVariable("FASHIONGPU_REQUIRE_OPENCL") == "1";

    public static DeviceCatalog Catalog => catalog.Value;

    /// <summary>
    /// The kernels for a backend (with <paramref name="variant"/> forced, or the backend's own
    /// choice), or the test is failed (required) or ignored (optional) with the reason.
    /// </summary>
    public static KernelLibrary Get(string name, GemmVariant? variant = null)
    {
        lock (opened)
        {
            if (libraries.TryGetValue((name, variant), out var library)) return library;
            if (opened.TryGetValue(name, out var open))
                return libraries[(name, variant)] = new KernelLibrary(open, variant);
            var accelerator = Catalog.Create(Require(name));
            opened[name] = accelerator;
            return libraries[(name, variant)] = new KernelLibrary(accelerator, variant);
        }
    }

    /// <summary>
    /// The first device of a backend, for tests that run the CLI on it in another process; when
    /// there is none the test fails (OpenCL where required) or is ignored, with the reason.
    /// </summary>
    public static DeviceEntry Require(string name)
    {
        DeviceEntry.TryParseKind(name, out var kind);
        var device = Catalog.Devices.FirstOrDefault(d => d.Kind == kind);
        if (device is null)
        {
            string why = $"no {name} device on this machine (install pocl-opencl-icd for OpenCL on the CPU)";
            if (OpenClRequired && name == "opencl") Assert.Fail(why + "; CI requires it");
            Assert.Ignore(why);
        }
        return device!;
    }

    /// <summary>The fastest backend present for the CLI tests that need one run: OpenCL where there is a device (or it is required), else the CPU accelerator.</summary>
    public static string Fastest =>
        OpenClRequired || Catalog.Devices.Any(d => d.Kind == AcceleratorKind.OpenCL) ? "opencl" : "cpu";

    /// <summary>Called once after every test of the assembly (see <see cref="TestRun"/>).</summary>
    public static void DisposeAll()
    {
        foreach (var accelerator in opened.Values) accelerator.Dispose();
        opened.Clear();
        libraries.Clear();
        if (catalog.IsValueCreated) catalog.Value.Dispose();
    }
}
