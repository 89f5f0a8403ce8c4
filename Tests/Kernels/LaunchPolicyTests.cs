using FashionGpu.Kernels;
using NUnit.Framework;

namespace FashionGpu.Tests.Kernels;

/// <summary>Which GEMM variant each kind of device gets, and the shared-tiled group size.</summary>
public sealed class LaunchPolicyTests
{
    [TestCase(DeviceClass.Gpu, GemmVariant.SharedTiled)]
    [TestCase(DeviceClass.OpenClCpu, GemmVariant.Register)]
    [TestCase(DeviceClass.CpuAccelerator, GemmVariant.CpuPacked)]
    public void EachDeviceClassGetsItsVariant(DeviceClass device, GemmVariant expected) =>
        Assert.That(LaunchPolicy.DefaultGemm(device), Is.EqualTo(expected));

    [TestCaseSource(typeof(Backends), nameof(Backends.Names))]
    public void CpuDevicesNeverPickSharedTilesByDefault(string backend)
    {
        var policy = Backends.Get(backend).Policy;
        Assert.That(policy.Device, Is.Not.EqualTo(DeviceClass.Gpu), "no GPU on this machine: the backend is a CPU one");
        Assert.That(policy.Gemm, Is.Not.EqualTo(GemmVariant.SharedTiled));
    }

    [TestCaseSource(typeof(Backends), nameof(Backends.Names))]
    public void TiledGroupsArePowersOfTwoThatFitTheDeviceAndTheTile(string backend)
    {
        var k = Backends.Get(backend, GemmVariant.SharedTiled);
        int size = k.Policy.TiledGroupSize;
        Assert.That(size & (size - 1), Is.Zero, $"{size} is a power of two, so the rounds of blocks divide the tile evenly");
        Assert.That(size, Is.InRange(1, Math.Min(Conv2dKernels.TileBlocks, k.Accelerator.MaxNumThreadsPerGroup)));
    }
}
