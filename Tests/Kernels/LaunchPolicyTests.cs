using FashionGpu.Kernels;
using NUnit.Framework;

namespace FashionGpu.Tests.Kernels;

/// <summary>Which GEMM variant each kind of device gets, and the shared-tiled group size.</summary>
public sealed class LaunchPolicyTests
{
    [TestCase(DeviceClass.Gpu, GemmVariant.SharedTiled)]
    [TestCase(DeviceClass.OpenClCpu, GemmVariant.Panel)]
    [TestCase(DeviceClass.CpuAccelerator, GemmVariant.CpuPacked)]
    public void EachDeviceClassGetsItsVariant(DeviceClass device, GemmVariant expected) =>
        Assert.That(LaunchPolicy.DefaultGemm(device), Is.EqualTo(expected));

    /// <summary>Each device is classified by what it is (the CPU accelerator, an OpenCL CPU or GPU device) and gets its class's variant.</summary>
    [TestCaseSource(typeof(Backends), nameof(Backends.Names))]
    public void EachBackendIsClassifiedByItsDeviceTypeAndGetsItsVariant(string backend)
    {
        var policy = Backends.Get(backend).Policy;
        var device = Backends.Require(backend);
        var expected = device.Kind == AcceleratorKind.Cpu ? DeviceClass.CpuAccelerator : device.IsGpu ? DeviceClass.Gpu : DeviceClass.OpenClCpu;
        Assert.That(policy.Device, Is.EqualTo(expected), device.ToString());
        Assert.That(policy.Gemm, Is.EqualTo(LaunchPolicy.DefaultGemm(expected)));
    }

    [TestCaseSource(typeof(Backends), nameof(Backends.Names))]
    public void TiledGroupsArePowersOfTwoThatFitTheDeviceAndTheTile(string backend)
    {
        var k = Backends.Get(backend, GemmVariant.SharedTiled);
        int size = k.Policy.TiledGroupSize;
        Assert.That(size & (size - 1), Is.Zero, $"{size} is a power of two, so the rounds of blocks divide the tile evenly");
        Assert.That(size, Is.InRange(1, Math.Min(SharedTiledConvKernels.TileBlocks, k.Accelerator.MaxNumThreadsPerGroup)));
    }

    /// <summary>PoCL's 8 lanes (the rule itself, whatever device this machine has).</summary>
    [Test]
    public void BackwardWeightLanesGoOnChannelsOnlyWhereTapsAreFew()
    {
        Assert.That(LaunchPolicy.WeightLanesOverChannels(lanes: 8, taps: 9, channels: 32), Is.True, "conv1: 12 x 32 slots instead of 32 x 32");
        Assert.That(LaunchPolicy.WeightLanesOverChannels(lanes: 8, taps: 288, channels: 64), Is.False, "conv2: no slot wasted either way");
        Assert.That(LaunchPolicy.WeightLanesOverChannels(lanes: 8, taps: 128, channels: 10), Is.False, "fc2: 10 channels would fill a third of 32 lanes' slots");
    }
}
