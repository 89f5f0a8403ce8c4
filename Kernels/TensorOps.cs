using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// The small kernels training needs around the layers.
// Dataset layouts on the device: pixels [N,P] as bytes 0..255 (P = 784 for 28x28), labels [N] bytes.

public static class TensorOpsKernels
{
    /// <summary>images[b,p] = pixels[indices[b], p] / 255 and labels[b] = classes[indices[b]].</summary>
    public static void GatherBatch(Index1D thread, int threads, int batch, int pixelsPerImage,
        ArrayView<byte> pixels, ArrayView<byte> classes, ArrayView<int> indices, ArrayView<float> images, ArrayView<int> labels)
    {
        int n = batch * pixelsPerImage;
        for (int i = thread; i < n; i += threads)
        {
            int b = i / pixelsPerImage, p = i - b * pixelsPerImage;
            int sample = indices[b];
            images[i] = pixels[sample * pixelsPerImage + p] * (1f / 255f);
            if (p == 0) labels[b] = classes[sample];
        }
    }

    /// <summary>floats[i] = bytes[i] / 255.</summary>
    public static void BytesToFloats(Index1D thread, int threads, int n, ArrayView<byte> bytes, ArrayView<float> floats)
    {
        for (int i = thread; i < n; i += threads)
            floats[i] = bytes[i] * (1f / 255f);
    }

    public static void Fill(Index1D thread, int threads, int n, float value, ArrayView<float> target)
    {
        for (int i = thread; i < n; i += threads)
            target[i] = value;
    }
}

/// <summary>Launches the small kernels on one accelerator.</summary>
public sealed class TensorOps
{
    private readonly LaunchPolicy policy;
    private readonly Action<Index1D, int, int, int, ArrayView<byte>, ArrayView<byte>, ArrayView<int>, ArrayView<float>, ArrayView<int>> gatherBatch;
    private readonly Action<Index1D, int, int, ArrayView<byte>, ArrayView<float>> bytesToFloats;
    private readonly Action<Index1D, int, int, float, ArrayView<float>> fill;

    public TensorOps(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        gatherBatch = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, int, ArrayView<byte>, ArrayView<byte>, ArrayView<int>, ArrayView<float>, ArrayView<int>>(TensorOpsKernels.GatherBatch, policy.GroupSize);
        bytesToFloats = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, ArrayView<byte>, ArrayView<float>>(TensorOpsKernels.BytesToFloats, policy.GroupSize);
        fill = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, float, ArrayView<float>>(TensorOpsKernels.Fill, policy.GroupSize);
    }

    /// <summary>Gathers <paramref name="batch"/> samples named by <paramref name="indices"/> into float images in [0,1] and int labels.</summary>
    public void GatherBatch(int batch, int pixelsPerImage, ArrayView<byte> pixels, ArrayView<byte> classes, ArrayView<int> indices,
        ArrayView<float> images, ArrayView<int> labels)
    {
        int t = policy.Threads((long)batch * pixelsPerImage);
        gatherBatch(t, t, batch, pixelsPerImage, pixels, classes, indices, images, labels);
    }

    public void BytesToFloats(int n, ArrayView<byte> bytes, ArrayView<float> floats)
    {
        int t = policy.Threads(n);
        bytesToFloats(t, t, n, bytes, floats);
    }

    public void Fill(int n, float value, ArrayView<float> target)
    {
        int t = policy.Threads(n);
        fill(t, t, n, value, target);
    }
}
