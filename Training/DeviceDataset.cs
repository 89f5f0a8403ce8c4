using FashionGpu.Training.Data;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Training;

/// <summary>A set of images and labels uploaded to the device once, as bytes (a quarter of the float size); batches are gathered from it by index.</summary>
public sealed class DeviceDataset : IDisposable
{
    private readonly MemoryBuffer1D<byte, Stride1D.Dense> pixels, labels;

    public int Count { get; }
    public int PixelsPerImage { get; }
    public ArrayView<byte> Pixels => pixels.View;
    public ArrayView<byte> Labels => labels.View;

    public DeviceDataset(Accelerator accelerator, ImageSet set)
    {
        Count = set.Count;
        PixelsPerImage = set.PixelsPerImage;
        pixels = accelerator.Allocate1D(set.Pixels);
        labels = accelerator.Allocate1D(set.Labels);
    }

    public void Dispose()
    {
        pixels.Dispose();
        labels.Dispose();
    }
}
