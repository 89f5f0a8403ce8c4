using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.OpenCL;

namespace FashionGpu.Kernels;

/// <summary>What kind of device a launch runs on; it decides launch geometry and kernel variants.</summary>
public enum DeviceClass
{
    /// <summary>ILGPU's CPU accelerator: every thread an OS thread, synchronous launches, barriers cost milliseconds.</summary>
    CpuAccelerator,
    /// <summary>An OpenCL driver running on the CPU (PoCL): work-groups are vectorised across work-items.</summary>
    OpenClCpu,
    /// <summary>CUDA or an OpenCL GPU.</summary>
    Gpu,
}

/// <summary>
/// How the GEMM-shaped kernels (convolution and dense, forward and both backward passes) are
/// computed. Every variant gives the same sums in the same order per output element's owner
/// thread; they differ only in how work is split and how memory is read.
/// </summary>
public enum GemmVariant
{
    /// <summary>
    /// Each work-item owns a block of outputs in registers (4 x 4; 8 pixels x 4 channels in the
    /// convolution forward pass, whose pixels the whole group shares); work-items of a group of
    /// <see cref="LaunchPolicy.Lanes"/> own interleaved columns (lane l owns columns l, l + lanes, ...)
    /// so neighbouring lanes read neighbouring addresses. No shared memory. PoCL's choice before Panel.
    /// </summary>
    Register,
    /// <summary>
    /// The CPU accelerator's: a few fat threads (one per core), each owning 4 x 4 blocks of
    /// outputs and reading operands 16 bytes at a time from pre-packed panels.
    /// </summary>
    CpuPacked,
    /// <summary>
    /// Real GPUs' (CUDA, OpenCL GPUs): a group computes a <see cref="SharedTiledConvKernels.TileM"/> x
    /// <see cref="SharedTiledConvKernels.TileN"/> output tile, loading operand tiles of
    /// <see cref="SharedTiledConvKernels.TileK"/> along the sum into shared memory between group barriers;
    /// each thread owns a 4 x 4 register block of the tile. Padding and edges are read as zeros
    /// while loading, so no pack or pad pass runs. Neither PoCL nor the CPU accelerator picks it
    /// (PoCL measured slower with shared tiles; barriers cost the CPU accelerator milliseconds).
    /// </summary>
    SharedTiled,
    /// <summary>
    /// Operands packed into panels first (im2col panels of 4 pixels, the weight as rows of 16
    /// channels; for the weight gradient dOutput panels of 4 channels and im2col rows of 16 taps),
    /// so each work-item's 4 x 16 block of outputs reads unit-stride, edge-free operands: the
    /// shape PoCL's compiler turns into vector code within one work-item. The input gradient is a
    /// column-gradient GEMM and a col2im gather (no padded pass). PoCL's choice.
    /// </summary>
    Panel,
}

/// <summary>
/// The one place that decides launch geometry and kernel variants for an accelerator. The
/// simple kernels are grid-stride loops (thread t handles items t, t + threads, ...), so any
/// thread count is correct and only speed depends on this choice.
/// </summary>
public sealed class LaunchPolicy
{
    /// <summary>Most threads a launch of a simple grid-stride kernel uses.</summary>
    public int MaxThreads { get; }

    public DeviceClass Device { get; }

    /// <summary>True on ILGPU's CPU accelerator, whose threads are OS threads.</summary>
    public bool IsCpuAccelerator => Device == DeviceClass.CpuAccelerator;

    /// <summary>The variant of the GEMM-shaped kernels (chosen per device unless forced).</summary>
    public GemmVariant Gemm { get; }

    /// <summary>Work-items per group in the register-blocked kernels (they interleave columns by lane).</summary>
    public int Lanes { get; }

    /// <summary>
    /// Work-items per group of the grid-stride kernels. PoCL runs a work-group on one core, and
    /// ILGPU's automatic grouping makes groups of 4096 there, so a launch of a few thousand items
    /// (a GEMM's blocks, a packing pass's tiles) was one group on one core: groups of 32 spread them
    /// over every core (32 measured fastest for the whole step; README, notes from tuning). The CPU accelerator's groups are as large as
    /// it allows (one thread per core); GPUs get 256, the customary size (not measured here).
    /// </summary>
    public int GroupSize { get; }

    /// <summary>Most groups a register-blocked launch uses; beyond that groups loop over tiles.</summary>
    public int MaxGroups { get; }

    /// <summary>Threads per group of the shared-tiled kernels: a power of two, at most <see cref="SharedTiledConvKernels.TileBlocks"/>.</summary>
    public int TiledGroupSize { get; }

    /// <param name="forceGemm">Use this variant instead of the device's default (tests and selftest check every variant on every backend).</param>
    public LaunchPolicy(Accelerator accelerator, GemmVariant? forceGemm = null)
    {
        Device = Classify(accelerator);
        // CPU accelerator: one fat thread per core (every extra thread is an OS thread and
        // costs ~1.4 us per launch). OpenCL and CUDA: one thread per item up to a bound
        // that keeps every multiprocessor busy; beyond it threads loop.
        MaxThreads = IsCpuAccelerator ? accelerator.MaxNumThreads : Math.Max(accelerator.MaxNumThreads, 1 << 16) * 4;
        Gemm = forceGemm ?? DefaultGemm(Device);
        // PoCL vectorises a work-group across its work-items: 8 lanes fill an AVX2 register
        // (wider groups measured slower). The CPU accelerator gets one lane per thread and one
        // thread per core; a group barrier there costs milliseconds, so groups stay 1 wide.
        Lanes = Device switch
        {
            DeviceClass.CpuAccelerator => 1,
            DeviceClass.OpenClCpu => 8,
            _ => Math.Min(32, accelerator.MaxNumThreadsPerGroup),
        };
        MaxGroups = IsCpuAccelerator ? accelerator.MaxNumThreads : 1 << 14;
        GroupSize = Device switch
        {
            DeviceClass.OpenClCpu => 32,
            DeviceClass.CpuAccelerator => accelerator.MaxNumThreadsPerGroup,
            _ => Math.Min(256, accelerator.MaxNumThreadsPerGroup),
        };
        // One thread per 4 x 4 register block of a shared tile where the device allows it. A
        // smaller group (the CPU accelerator allows one per core, 2 here) walks the blocks in
        // rounds, reloading the tiles per round: correct, slow, and only chosen by tests.
        TiledGroupSize = Math.Min(SharedTiledConvKernels.TileBlocks, 1 << (31 - System.Numerics.BitOperations.LeadingZeroCount((uint)accelerator.MaxNumThreadsPerGroup)));
    }

    /// <summary>The GEMM variant a device class uses unless told otherwise.</summary>
    public static GemmVariant DefaultGemm(DeviceClass device) => device switch
    {
        DeviceClass.CpuAccelerator => GemmVariant.CpuPacked,
        DeviceClass.OpenClCpu => GemmVariant.Panel,
        _ => GemmVariant.SharedTiled,
    };

    private static DeviceClass Classify(Accelerator accelerator) => accelerator switch
    {
        _ when accelerator.AcceleratorType == AcceleratorType.CPU => DeviceClass.CpuAccelerator,
        CLAccelerator cl when cl.DeviceType == CLDeviceType.CL_DEVICE_TYPE_CPU => DeviceClass.OpenClCpu,
        _ => DeviceClass.Gpu,
    };

    /// <summary>Threads to launch for <paramref name="items"/> independent work items.</summary>
    public int Threads(long items) => (int)Math.Clamp(items, 1, MaxThreads);

    /// <summary>Launch shape of a register-blocked kernel over <paramref name="tiles"/> tiles: one group per tile up to <see cref="MaxGroups"/>.</summary>
    public KernelConfig RegisterGroups(long tiles) => new((int)Math.Clamp(tiles, 1, MaxGroups), Lanes);

    /// <summary>
    /// Whether the register variant's backward weight pass puts lanes on output channels instead of
    /// taps: when that computes fewer padded tile slots (4 * lanes on one side, 4 on the other).
    /// conv1 (9 taps, 32 channels, 8 lanes): 12 x 32 slots instead of 32 x 32.
    /// </summary>
    public bool WeightLanesOverChannels(long taps, long channels) => WeightLanesOverChannels(Lanes, taps, channels);

    public static bool WeightLanesOverChannels(int lanes, long taps, long channels)
    {
        long wide = 4L * lanes;
        long overTaps = (taps + wide - 1) / wide * wide * ((channels + 3) / 4 * 4);
        long overChannels = (taps + 3) / 4 * 4 * ((channels + wide - 1) / wide * wide);
        return overChannels < overTaps;
    }

    /// <summary>
    /// Whether the Panel variant runs <paramref name="s"/> (forward and weight gradient) with the
    /// direct kernels (Kernels/Gemm/DirectConv2d.cs) instead of packed GEMMs: when its taps fit in
    /// one 16-wide block (conv1: 9), where packing costs more than the arithmetic it feeds.
    /// </summary>
    public static bool Direct(ConvShape s) => s.InChannels * s.KernelH * s.KernelW <= DirectConvKernels.Width;

    /// <summary>Launch shape of a shared-tiled kernel over <paramref name="tiles"/> output tiles: one group per tile up to <see cref="MaxGroups"/>.</summary>
    public KernelConfig TiledGroups(long tiles) => new((int)Math.Clamp(tiles, 1, MaxGroups), TiledGroupSize);
}
