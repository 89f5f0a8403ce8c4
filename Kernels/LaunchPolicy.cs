using ILGPU.Runtime;

namespace FashionGpu.Kernels;

/// <summary>
/// The one place that decides launch geometry for an accelerator. Every kernel here is a
/// grid-stride loop (thread t handles items t, t + threads, ...), so any thread count is
/// correct and only speed depends on this choice.
/// </summary>
public sealed class LaunchPolicy
{
    /// <summary>Most threads a launch uses.</summary>
    public int MaxThreads { get; }

    /// <summary>True on ILGPU's CPU accelerator, whose threads are OS threads.</summary>
    public bool IsCpuAccelerator { get; }

    public LaunchPolicy(Accelerator accelerator)
    {
        IsCpuAccelerator = accelerator.AcceleratorType == AcceleratorType.CPU;
        // CPU accelerator: one fat thread per core (every extra thread is an OS thread and
        // costs ~1.4 us per launch). OpenCL and CUDA: one thread per item up to a bound
        // that keeps every multiprocessor busy; beyond it threads loop.
        MaxThreads = IsCpuAccelerator ? accelerator.MaxNumThreads : Math.Max(accelerator.MaxNumThreads, 1 << 16) * 4;
    }

    /// <summary>Threads to launch for <paramref name="items"/> independent work items.</summary>
    public int Threads(long items) => (int)Math.Clamp(items, 1, MaxThreads);
}
