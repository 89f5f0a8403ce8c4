using FashionGpu.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Bench.Benchmarks;

/// <summary>
/// An accelerator with its kernels compiled and device buffers filled with random values,
/// created in a benchmark's GlobalSetup so allocation, copies and compilation stay outside the
/// measured region.
/// </summary>
public sealed class BackendSetup : IDisposable
{
    private static readonly Lazy<DeviceCatalog> catalog = new(() => new DeviceCatalog());
    private readonly List<MemoryBuffer> buffers = [];
    private readonly Random rng = new(7);

    public Accelerator Accelerator { get; }
    public KernelLibrary Kernels { get; }

    /// <summary>Backends present on this machine, in the order benchmarks list them.</summary>
    public static IEnumerable<string> Present() =>
        new[] { "cpu", "opencl", "cuda" }.Where(name =>
            DeviceEntry.TryParseKind(name, out var kind) && catalog.Value.Devices.Any(d => d.Kind == kind));

    public BackendSetup(string backend)
    {
        DeviceEntry.TryParseKind(backend, out var kind);
        Accelerator = catalog.Value.Create(catalog.Value.Select(kind));
        Kernels = new KernelLibrary(Accelerator);
    }

    public ArrayView<float> Random(long n, float scale = 1f)
    {
        var data = new float[n];
        for (long i = 0; i < n; i++) data[i] = (float)(rng.NextDouble() - 0.5) * scale;
        var buffer = Accelerator.Allocate1D(data);
        buffers.Add(buffer);
        return buffer.View;
    }

    public ArrayView<int> Labels(int n, int classes)
    {
        var buffer = Accelerator.Allocate1D(Enumerable.Range(0, n).Select(_ => rng.Next(classes)).ToArray());
        buffers.Add(buffer);
        return buffer.View;
    }

    public void Dispose()
    {
        Accelerator.Synchronize();
        foreach (var b in buffers) b.Dispose();
        Accelerator.Dispose();
    }
}
