using FashionGpu.Kernels;
using FashionGpu.Kernels.Verification;
using NUnit.Framework;

namespace FashionGpu.Tests.Kernels;

/// <summary>Augmentation draws from (seed, epoch, sample) alone: the same images on every backend, in any batch, and new ones each epoch.</summary>
public sealed class AugmentTests
{
    private static float[] Augmented(string backend, Augmentation a, byte[] pixels, int[] indices)
    {
        var k = Backends.Get(backend);
        using var dev = new DeviceScope(k.Accelerator);
        var vPixels = dev.Upload(pixels); var vClasses = dev.Upload(new byte[pixels.Length / 784]); var vIndices = dev.Upload(indices);
        var vImages = dev.Allocate(indices.Length * 784); var vLabels = dev.AllocateInt(indices.Length);
        k.Augment.Gather(indices.Length, 28, a, vPixels, vClasses, vIndices, vImages, vLabels);
        return dev.Download(vImages);
    }

    private static readonly byte[] Pixels = Enumerable.Range(0, 50 * 784).Select(i => (byte)(i * 7 % 251)).ToArray();

    [Test]
    public void IdenticalOnEveryBackend()
    {
        var a = new Augmentation(12345u, 2u, 2, 1);
        int[] indices = [0, 7, 49, 3, 3, 21];
        var images = Backends.Names.Select(b => { Backends.Require(b); return Augmented(b, a, Pixels, indices); }).ToList();
        Assert.That(images[1], Is.EqualTo(images[0]), "bit for bit");
    }

    [Test]
    public void ASampleGetsTheSameDrawInAnyBatchAndANewOneNextEpoch()
    {
        var a = new Augmentation(99u, 5u, 3, 1);
        var alone = Augmented("cpu", a, Pixels, [17]);
        var inBatch = Augmented("cpu", a, Pixels, [4, 17, 30]).AsSpan(784, 784).ToArray();
        Assert.That(inBatch, Is.EqualTo(alone));
        // Over 50 samples and 2 epochs, shifts and flips vary (a constant draw would be a bug).
        int[] all = Enumerable.Range(0, 50).ToArray();
        var e5 = Augmented("cpu", a, Pixels, all);
        var e6 = Augmented("cpu", a with { Epoch = 6 }, Pixels, all);
        Assert.That(e6, Is.Not.EqualTo(e5));
        int distinct = Enumerable.Range(0, 50).Select(i => { Augmentation.Draw(a, i, out int dy, out int dx, out bool f); return (dy, dx, f); }).Distinct().Count();
        Assert.That(distinct, Is.GreaterThan(20), "7 x 7 shifts x 2 flips drawn for 50 samples");
    }
}
