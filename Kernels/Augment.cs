using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// Data augmentation fused into the batch gather: each image is flipped left-right (when its flip
// bit is set and flips are on), then shifted by (dy, dx) in [-Shift, Shift]^2 with zeros coming
// in: torchvision's RandomHorizontalFlip then RandomCrop(28, padding=Shift). The draws are a hash
// of (seed, epoch, sample index in the dataset), so they do not depend on the batch, the order or
// the backend, and a resumed run draws them again.
// Layouts: pixels [N,S,S] bytes, images [B,S,S] floats in [0,1].

/// <summary>The augmentation of one epoch: the run's augmentation seed, the epoch, the largest shift (0 for none) and whether to flip.</summary>
public readonly record struct Augmentation(uint Seed, uint Epoch, int Shift, int Flip)
{
    public bool Enabled => Shift > 0 || Flip != 0;

    /// <summary>The draws for dataset sample <paramref name="sample"/>: the shift (dy, dx) and the flip.</summary>
    public static void Draw(Augmentation a, int sample, out int dy, out int dx, out bool flip)
    {
        uint h = CounterHash.Hash(a.Seed, a.Epoch, (uint)sample);
        uint span = (uint)(2 * a.Shift + 1);
        dy = (int)((h & 0xFFFF) % span) - a.Shift;
        dx = (int)((h >> 16) % span) - a.Shift;
        flip = a.Flip != 0 && (CounterHash.Mix(h) & 1) != 0;
    }
}

public static class AugmentKernels
{
    /// <summary>images[b] = the augmented image indices[b] (see <see cref="Augmentation"/>), labels[b] = its class.</summary>
    public static void GatherAugmented(Index1D thread, int threads, int batch, int size, Augmentation a,
        ArrayView<byte> pixels, ArrayView<byte> classes, ArrayView<int> indices, ArrayView<float> images, ArrayView<int> labels)
    {
        int perImage = size * size, n = batch * perImage;
        for (int i = thread; i < n; i += threads)
        {
            int b = i / perImage, r = i - b * perImage, y = r / size, x = r - y * size;
            int sample = indices[b];
            Augmentation.Draw(a, sample, out int dy, out int dx, out bool flip);
            int sy = y - dy, sx = x - dx;
            if (flip) sx = size - 1 - sx;
            bool inside = sy >= 0 && sy < size && sx >= 0 && sx < size;
            // Clamped load, then select (a load under the condition is a branch PoCL cannot vectorise).
            int at = sample * perImage + Math.Min(Math.Max(sy, 0), size - 1) * size + Math.Min(Math.Max(sx, 0), size - 1);
            float v = pixels[at] * (1f / 255f);
            images[i] = inside ? v : 0f;
            if (r == 0) labels[b] = classes[sample];
        }
    }
}

/// <summary>Launches the augmentation kernel on one accelerator.</summary>
public sealed class Augment
{
    private readonly LaunchPolicy policy;
    private readonly Action<Index1D, int, int, int, Augmentation, ArrayView<byte>, ArrayView<byte>, ArrayView<int>, ArrayView<float>, ArrayView<int>> gather;

    public Augment(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        gather = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, int, Augmentation, ArrayView<byte>, ArrayView<byte>, ArrayView<int>, ArrayView<float>, ArrayView<int>>(AugmentKernels.GatherAugmented, policy.GroupSize);
    }

    /// <summary>Gathers <paramref name="batch"/> samples of <paramref name="size"/> x <paramref name="size"/> pixels, augmented, into images and labels.</summary>
    public void Gather(int batch, int size, Augmentation a, ArrayView<byte> pixels, ArrayView<byte> classes, ArrayView<int> indices, ArrayView<float> images, ArrayView<int> labels)
    {
        int t = policy.Threads((long)batch * size * size);
        gather(t, t, batch, size, a, pixels, classes, indices, images, labels);
    }
}
