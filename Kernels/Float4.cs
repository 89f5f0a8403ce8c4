using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

/// <summary>
/// Four floats read or written as one 16-byte element through <c>view.Cast&lt;Float4&gt;()</c>.
/// On the CPU accelerator every view access carries a bounds check; one access per four floats
/// is what makes its GEMM loops fast. (System.Numerics.Vector4 crashes ILGPU's compiler.)
/// </summary>
public struct Float4
{
    public float X, Y, Z, W;
}

/// <summary>
/// Sixteen floats read as one 64-byte element (4 rows of <see cref="Float4"/>): on the CPU
/// accelerator one bounds-checked view access per 4 taps x 4 pixels (or channels), so the
/// GEMM loops make 2 view accesses per 64 multiply-adds instead of 8.
/// </summary>
public struct Float4x4
{
    public Float4 R0, R1, R2, R3;
}

/// <summary>
/// A device buffer a launcher owns for intermediate results (packed weights, padded gradients),
/// grown on demand and reused, so a training step allocates only on its first call.
/// </summary>
internal sealed class ScratchBuffer(Accelerator accelerator)
{
    private MemoryBuffer1D<float, Stride1D.Dense>? buffer;

    /// <summary>A view of the first <paramref name="size"/> floats (starting at the buffer's index 0, so 16-byte aligned).</summary>
    public ArrayView<float> Get(long size)
    {
        if (buffer is null || buffer.Length < size)
        {
            // Work queued earlier may still read the old buffer.
            accelerator.Synchronize();
            buffer?.Dispose();
            buffer = accelerator.Allocate1D<float>(Math.Max(size, 4));
        }
        return buffer.View.SubView(0, size);
    }
}
