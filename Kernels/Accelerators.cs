using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace FashionGpu.Kernels;

/// <summary>The kinds of accelerator a user can ask for.</summary>
public enum AcceleratorKind { Auto, Cpu, OpenCL, Cuda }

/// <summary>One accelerator found on this machine.</summary>
/// <param name="Index">Position among the devices of the same kind (what <c>--device</c> selects).</param>
public sealed record DeviceEntry(AcceleratorKind Kind, int Index, string Name, long MemoryBytes, int MaxGroupSize, bool IsGpu, Device Device)
{
    public string Id => $"{KindName(Kind)}:{Index}";

    public static string KindName(AcceleratorKind kind) => kind switch
    {
        AcceleratorKind.Cpu => "cpu",
        AcceleratorKind.OpenCL => "opencl",
        AcceleratorKind.Cuda => "cuda",
        _ => "auto",
    };

    public static bool TryParseKind(string text, out AcceleratorKind kind)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "auto": kind = AcceleratorKind.Auto; return true;
            case "cpu": kind = AcceleratorKind.Cpu; return true;
            case "opencl": kind = AcceleratorKind.OpenCL; return true;
            case "cuda": kind = AcceleratorKind.Cuda; return true;
            default: kind = AcceleratorKind.Auto; return false;
        }
    }

    public override string ToString() => $"{Id} {Name}";
}

/// <summary>A device request that cannot be met; the message is one line for the user.</summary>
public sealed class DeviceSelectionException(string message) : Exception(message);

/// <summary>
/// The one place where accelerators are discovered, chosen and created.
/// Owns the ILGPU context; dispose it after every accelerator created from it.
/// </summary>
public sealed class DeviceCatalog : IDisposable
{
    private readonly Context context;

    public IReadOnlyList<DeviceEntry> Devices { get; }

    /// <param name="optimization">ILGPU's optimisation level; O2 is what PoCL needs (tests use O1 to make it fail on purpose).</param>
    public DeviceCatalog(OptimizationLevel optimization = OptimizationLevel.O2)
    {
        OpenClDriverQuirks.InstallLibraryResolver();
        context = Context.Create(builder => builder
            // The CPU accelerator runs every ILGPU thread as an OS thread and launches are
            // synchronous; one thread per core keeps launch cost near 60 us instead of ~450 us
            // for the default 16-thread device (README, "Notes from tuning").
            .CPU(new CPUDevice(numThreadsPerWarp: Math.Max(1, Environment.ProcessorCount), numWarpsPerMultiprocessor: 1, numMultiprocessors: 1))
            // List every OpenCL device, including CPU drivers such as PoCL that ILGPU
            // would otherwise hide (they lack generic address space support).
            .OpenCL(_ => true)
            .Cuda()
            // PoCL rejects the __generic casts ILGPU emits at O1; O2 removes them.
            .Optimize(optimization));

        var found = new List<DeviceEntry>();
        int cpu = 0, cl = 0, cuda = 0;
        foreach (var device in context.Devices)
        {
            switch (device)
            {
                case CPUDevice:
                    found.Add(new DeviceEntry(AcceleratorKind.Cpu, cpu++, $"ILGPU CPU accelerator ({device.MaxNumThreads} threads)",
                        GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, device.MaxNumThreadsPerGroup, false, device));
                    break;
                case CLDevice clDevice:
                    found.Add(new DeviceEntry(AcceleratorKind.OpenCL, cl++, $"{clDevice.Name.Trim()} ({clDevice.PlatformName.Trim()})",
                        device.MemorySize, device.MaxNumThreadsPerGroup, clDevice.DeviceType != CLDeviceType.CL_DEVICE_TYPE_CPU, device));
                    break;
                case CudaDevice:
                    found.Add(new DeviceEntry(AcceleratorKind.Cuda, cuda++, device.Name.Trim(), device.MemorySize, device.MaxNumThreadsPerGroup, true, device));
                    break;
            }
        }
        Devices = found;
    }

    /// <summary>What <c>auto</c> picks: CUDA, then an OpenCL GPU, then an OpenCL CPU device, then the CPU accelerator.</summary>
    public DeviceEntry AutoChoice =>
        Devices.FirstOrDefault(d => d.Kind == AcceleratorKind.Cuda)
        ?? Devices.FirstOrDefault(d => d.Kind == AcceleratorKind.OpenCL && d.IsGpu)
        ?? Devices.FirstOrDefault(d => d.Kind == AcceleratorKind.OpenCL)
        ?? Devices.First(d => d.Kind == AcceleratorKind.Cpu);

    /// <summary>Picks a device; throws <see cref="DeviceSelectionException"/> with one line naming what is present.</summary>
    public DeviceEntry Select(AcceleratorKind kind, int? index = null)
    {
        if (kind == AcceleratorKind.Auto)
        {
            if (index is null) return AutoChoice;
            kind = AutoChoice.Kind;
        }
        var ofKind = Devices.Where(d => d.Kind == kind).ToList();
        if (ofKind.Count == 0)
            throw new DeviceSelectionException(
                $"no {DeviceEntry.KindName(kind)} device found; present: {string.Join(", ", Devices.Select(d => d.ToString()))}");
        int i = index ?? 0;
        if (i < 0 || i >= ofKind.Count)
            throw new DeviceSelectionException(
                $"--device {i} is out of range: {ofKind.Count} {DeviceEntry.KindName(kind)} device(s) present (0..{ofKind.Count - 1})");
        return ofKind[i];
    }

    /// <summary>Creates the accelerator for a device (applying any driver workaround first).</summary>
    public Accelerator Create(DeviceEntry entry)
    {
        if (entry.Device is CLDevice clDevice) OpenClDriverQuirks.Apply(clDevice);
        return entry.Device.CreateAccelerator(context);
    }

    public void Dispose() => context.Dispose();
}

/// <summary>
/// Workarounds for OpenCL drivers that ILGPU 1.5.3 does not accept as they are (PoCL, the
/// CPU OpenCL driver Debian ships). Both do nothing on drivers that do not need them.
/// </summary>
internal static class OpenClDriverQuirks
{
    private static int resolverInstalled;

    /// <summary>
    /// ILGPU imports "OpenCL", which the runtime probes as libOpenCL.so; Debian's runtime
    /// package ships only libOpenCL.so.1 (the .so link comes with ocl-icd-opencl-dev).
    /// This handler runs only when the normal probe has already failed.
    /// </summary>
    public static void InstallLibraryResolver()
    {
        if (Interlocked.Exchange(ref resolverInstalled, 1) == 1) return;
        AssemblyLoadContext.Default.ResolvingUnmanagedDll += (_, name) =>
            name == "OpenCL" && NativeLibrary.TryLoad("libOpenCL.so.1", out var handle) ? handle : IntPtr.Zero;
    }

    /// <summary>
    /// ILGPU refuses OpenCL devices that do not report generic address space support, but the
    /// kernels compiled at O2 never use the generic address space, so the flag (an internal
    /// setter in ILGPU 1.5.3) is turned on for such devices.
    /// </summary>
    public static void Apply(CLDevice device)
    {
        if (device.Capabilities.GenericAddressSpace) return;
        var property = typeof(CLCapabilityContext).GetProperty(nameof(CLCapabilityContext.GenericAddressSpace),
            BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        property?.GetSetMethod(nonPublic: true)?.Invoke(device.Capabilities, [true]);
    }
}
