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

    [Test]
    public void PoclPutsBackwardWeightLanesOnChannelsOnlyWhereTapsAreFew()
    {
        var policy = Backends.Get("opencl", GemmVariant.Register).Policy;
        Assert.That(policy.Lanes, Is.EqualTo(8));
        Assert.That(policy.WeightLanesOverChannels(taps: 9, channels: 32), Is.True, "conv1: 12 x 32 slots instead of 32 x 32");
        Assert.That(policy.WeightLanesOverChannels(taps: 288, channels: 64), Is.False, "conv2: no slot wasted either way");
        Assert.That(policy.WeightLanesOverChannels(taps: 128, channels: 10), Is.False, "fc2: 10 channels would fill a third of 32 lanes' slots");
    }
}
