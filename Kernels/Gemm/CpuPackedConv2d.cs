using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// GemmVariant.CpuPacked, the CPU accelerator's: a few fat threads (one per core), each owning
// 4 x 4 blocks of outputs and reading operands 64 bytes at a time (Float4x4) from panels packed
// first, because every view access there is a bounds-checked call. Shapes and layouts as in Conv2d.cs.

/// <summary>The CpuPacked variant's kernels.</summary>
public static class CpuPackedConvKernels
{
    /// <summary>
    /// CpuPacked variant: the weight in 4 x 4 quads, packed[((kq*NQ + nq)*4 + i)*4 + j] = weight(n = 4nq + j,
    /// k = 4kq + i) (read through the strides of <paramref name="g"/>), zero for n &gt;= N or k &gt;= K:
    /// one <see cref="Float4x4"/> holds 4 taps of 4 output channels.
    /// </summary>
    public static void PackWeightQuads(Index1D thread, int threads, ConvTaps g, int nPad, ArrayView<float> weight, ArrayView<float> packed)
    {
        var s = g.Shape;
        int taps = s.KernelH * s.KernelW, kCount = s.InChannels * taps, total = ConvKernels.PadTo4(kCount) * nPad, nQuads = nPad / 4;
        for (int i = thread; i < total; i += threads)
        {
            int j = i & 3, r = i >> 2, row = r & 3, quad = r >> 2;
            int kq = quad / nQuads, nq = quad - kq * nQuads;
            int k = 4 * kq + row, n = 4 * nq + j;
            int c = k / taps, t = k - c * taps, ky = t / s.KernelW, kx = t - ky * s.KernelW;
            packed[i] = n < s.OutChannels && k < kCount
                ? weight[g.WeightBase + n * g.StrideN + c * g.StrideC + ky * g.StrideY + kx * g.StrideX]
                : 0f;
        }
    }

    /// <summary>
    /// CpuPacked backward weight, step 1: dOutput in tiles of 4 pixels by 4 channels,
    /// dPanels[((t*OQ + oq)*4 + i)*4 + j] = dOutput[b, o = 4oq + i, pixel p = 4t + j], zero for
    /// p &gt;= B*P (so the clamped pixels of the input panels add nothing) and o &gt;= O.
    /// </summary>
    public static void PackOutputs(Index1D thread, int threads, ConvShape s, ArrayView<float> dOutput, ArrayView<float> dPanels)
    {
        int plane = s.OutH * s.OutW, m = s.Batch * plane, o = s.OutChannels, oPad = ConvKernels.PadTo4(o);
        int total = (m + 3) / 4 * oPad * 4;
        for (int i = thread; i < total; i += threads)
        {
            int j = i & 3, r = i >> 2, row = r & 3, quad = r >> 2;
            int t = quad / (oPad / 4), oq = quad - t * (oPad / 4);
            int p = 4 * t + j, channel = 4 * oq + row;
            float v = 0f;
            if (p < m && channel < o)
            {
                int b = p / plane;
                v = dOutput[(b * o + channel) * plane + (p - b * plane)];
            }
            dPanels[i] = v;
        }
    }

    /// <summary>
    /// CpuPacked backward weight, step 2: dWeight[o,k] = sum over pixels p (in order) of
    /// dOutput[o,p] * im2col[p,k]. A thread owns 4 channels by 4 taps; per 4 pixels it reads one
    /// <see cref="Float4x4"/> of dPanels and one of the input panels for 64 multiply-adds. The
    /// padding pixels have dOutput 0, so the sums equal the register variant's, term for term.
    /// </summary>
    public static void BackwardWeightCpu(ConvShape s, ArrayView<float> dPanels, ArrayView<float> panels, ArrayView<float> dWeight)
    {
        var d16 = dPanels.Cast<Float4x4>();
        var a16 = panels.Cast<Float4x4>();
        int kCount = s.InChannels * s.KernelH * s.KernelW, kQuads = ConvKernels.PadTo4(kCount) / 4, o = s.OutChannels, oQuads = ConvKernels.PadTo4(o) / 4;
        int mTiles = (s.Batch * s.OutH * s.OutW + 3) / 4;
        // Work item = (channel quad, tap quad), tap quad fastest: neighbours share the dOutput stream.
        for (int t = Grid.GlobalIndex.X; t < oQuads * kQuads; t += Grid.DimX * Group.DimX)
        {
            int oq = t / kQuads, kq = t - oq * kQuads;
            float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
            for (int mt = 0, di = oq, ai = kq; mt < mTiles; mt++, di += oQuads, ai += kQuads)
            {
                var d = d16[di];
                var a = a16[ai];
                // pixel 0 of the tile: channels d.R*.X, taps a.R*.X
                c00 += d.R0.X * a.R0.X; c01 += d.R0.X * a.R1.X; c02 += d.R0.X * a.R2.X; c03 += d.R0.X * a.R3.X;
                c10 += d.R1.X * a.R0.X; c11 += d.R1.X * a.R1.X; c12 += d.R1.X * a.R2.X; c13 += d.R1.X * a.R3.X;
                c20 += d.R2.X * a.R0.X; c21 += d.R2.X * a.R1.X; c22 += d.R2.X * a.R2.X; c23 += d.R2.X * a.R3.X;
                c30 += d.R3.X * a.R0.X; c31 += d.R3.X * a.R1.X; c32 += d.R3.X * a.R2.X; c33 += d.R3.X * a.R3.X;
                // pixel 1 of the tile: channels d.R*.Y, taps a.R*.Y
                c00 += d.R0.Y * a.R0.Y; c01 += d.R0.Y * a.R1.Y; c02 += d.R0.Y * a.R2.Y; c03 += d.R0.Y * a.R3.Y;
                c10 += d.R1.Y * a.R0.Y; c11 += d.R1.Y * a.R1.Y; c12 += d.R1.Y * a.R2.Y; c13 += d.R1.Y * a.R3.Y;
                c20 += d.R2.Y * a.R0.Y; c21 += d.R2.Y * a.R1.Y; c22 += d.R2.Y * a.R2.Y; c23 += d.R2.Y * a.R3.Y;
                c30 += d.R3.Y * a.R0.Y; c31 += d.R3.Y * a.R1.Y; c32 += d.R3.Y * a.R2.Y; c33 += d.R3.Y * a.R3.Y;
                // pixel 2 of the tile: channels d.R*.Z, taps a.R*.Z
                c00 += d.R0.Z * a.R0.Z; c01 += d.R0.Z * a.R1.Z; c02 += d.R0.Z * a.R2.Z; c03 += d.R0.Z * a.R3.Z;
                c10 += d.R1.Z * a.R0.Z; c11 += d.R1.Z * a.R1.Z; c12 += d.R1.Z * a.R2.Z; c13 += d.R1.Z * a.R3.Z;
                c20 += d.R2.Z * a.R0.Z; c21 += d.R2.Z * a.R1.Z; c22 += d.R2.Z * a.R2.Z; c23 += d.R2.Z * a.R3.Z;
                c30 += d.R3.Z * a.R0.Z; c31 += d.R3.Z * a.R1.Z; c32 += d.R3.Z * a.R2.Z; c33 += d.R3.Z * a.R3.Z;
                // pixel 3 of the tile: channels d.R*.W, taps a.R*.W
                c00 += d.R0.W * a.R0.W; c01 += d.R0.W * a.R1.W; c02 += d.R0.W * a.R2.W; c03 += d.R0.W * a.R3.W;
                c10 += d.R1.W * a.R0.W; c11 += d.R1.W * a.R1.W; c12 += d.R1.W * a.R2.W; c13 += d.R1.W * a.R3.W;
                c20 += d.R2.W * a.R0.W; c21 += d.R2.W * a.R1.W; c22 += d.R2.W * a.R2.W; c23 += d.R2.W * a.R3.W;
                c30 += d.R3.W * a.R0.W; c31 += d.R3.W * a.R1.W; c32 += d.R3.W * a.R2.W; c33 += d.R3.W * a.R3.W;
            }
            int o0 = 4 * oq, k0 = 4 * kq;
            ConvKernels.StoreWeightColumn(dWeight, o0, o, k0, kCount, c00, c10, c20, c30);
            ConvKernels.StoreWeightColumn(dWeight, o0, o, k0 + 1, kCount, c01, c11, c21, c31);
            ConvKernels.StoreWeightColumn(dWeight, o0, o, k0 + 2, kCount, c02, c12, c22, c32);
            ConvKernels.StoreWeightColumn(dWeight, o0, o, k0 + 3, kCount, c03, c13, c23, c33);
        }
    }

    /// <summary>
    /// CpuPacked variant, step 2: the GEMM on pixel panels and the quad-packed weight. A thread
    /// owns 4 pixels by 4 channels; each quad of 4 taps is two 64-byte reads (<see cref="Float4x4"/>:
    /// 4 taps x 4 pixels, 4 taps x 4 channels) for 64 multiply-adds, where the scalar form needs
    /// 32 bounds-checked view accesses on the CPU accelerator (each one makes the JIT spill the
    /// accumulators). The padding taps are zero in both. Same sums, same order as the other variants.
    /// </summary>
    public static void ForwardCpu(ConvShape s, int nPad, int epilogue,
        ArrayView<float> panels, ArrayView<float> packed, ArrayView<float> bias, ArrayView<float> output)
    {
        var panels16 = panels.Cast<Float4x4>();
        var packed16 = packed.Cast<Float4x4>();
        int plane = s.OutH * s.OutW, kQuads = ConvKernels.PadTo4(s.InChannels * s.KernelH * s.KernelW) / 4;
        int m = s.Batch * plane, n = s.OutChannels, mTiles = (m + 3) / 4, nQuads = nPad / 4;
        // Work item = (pixel tile, channel quad), channel quad fastest: neighbours share a panel.
        for (int t = Grid.GlobalIndex.X; t < mTiles * nQuads; t += Grid.DimX * Group.DimX)
        {
            int mt = t / nQuads, nq = t - mt * nQuads, m0 = 4 * mt;
            float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
            for (int kq = 0, pa = mt * kQuads, w = nq; kq < kQuads; kq++, pa++, w += nQuads)
            {
                var a = panels16[pa];
                var b = packed16[w];
                // tap 0 of the quad: channels b.R0, pixels a.R0
                c00 += b.R0.X * a.R0.X; c01 += b.R0.X * a.R0.Y; c02 += b.R0.X * a.R0.Z; c03 += b.R0.X * a.R0.W;
                c10 += b.R0.Y * a.R0.X; c11 += b.R0.Y * a.R0.Y; c12 += b.R0.Y * a.R0.Z; c13 += b.R0.Y * a.R0.W;
                c20 += b.R0.Z * a.R0.X; c21 += b.R0.Z * a.R0.Y; c22 += b.R0.Z * a.R0.Z; c23 += b.R0.Z * a.R0.W;
                c30 += b.R0.W * a.R0.X; c31 += b.R0.W * a.R0.Y; c32 += b.R0.W * a.R0.Z; c33 += b.R0.W * a.R0.W;
                // tap 1 of the quad: channels b.R1, pixels a.R1
                c00 += b.R1.X * a.R1.X; c01 += b.R1.X * a.R1.Y; c02 += b.R1.X * a.R1.Z; c03 += b.R1.X * a.R1.W;
                c10 += b.R1.Y * a.R1.X; c11 += b.R1.Y * a.R1.Y; c12 += b.R1.Y * a.R1.Z; c13 += b.R1.Y * a.R1.W;
                c20 += b.R1.Z * a.R1.X; c21 += b.R1.Z * a.R1.Y; c22 += b.R1.Z * a.R1.Z; c23 += b.R1.Z * a.R1.W;
                c30 += b.R1.W * a.R1.X; c31 += b.R1.W * a.R1.Y; c32 += b.R1.W * a.R1.Z; c33 += b.R1.W * a.R1.W;
                // tap 2 of the quad: channels b.R2, pixels a.R2
                c00 += b.R2.X * a.R2.X; c01 += b.R2.X * a.R2.Y; c02 += b.R2.X * a.R2.Z; c03 += b.R2.X * a.R2.W;
                c10 += b.R2.Y * a.R2.X; c11 += b.R2.Y * a.R2.Y; c12 += b.R2.Y * a.R2.Z; c13 += b.R2.Y * a.R2.W;
                c20 += b.R2.Z * a.R2.X; c21 += b.R2.Z * a.R2.Y; c22 += b.R2.Z * a.R2.Z; c23 += b.R2.Z * a.R2.W;
                c30 += b.R2.W * a.R2.X; c31 += b.R2.W * a.R2.Y; c32 += b.R2.W * a.R2.Z; c33 += b.R2.W * a.R2.W;
                // tap 3 of the quad: channels b.R3, pixels a.R3
                c00 += b.R3.X * a.R3.X; c01 += b.R3.X * a.R3.Y; c02 += b.R3.X * a.R3.Z; c03 += b.R3.X * a.R3.W;
                c10 += b.R3.Y * a.R3.X; c11 += b.R3.Y * a.R3.Y; c12 += b.R3.Y * a.R3.Z; c13 += b.R3.Y * a.R3.W;
                c20 += b.R3.Z * a.R3.X; c21 += b.R3.Z * a.R3.Y; c22 += b.R3.Z * a.R3.Z; c23 += b.R3.Z * a.R3.W;
                c30 += b.R3.W * a.R3.X; c31 += b.R3.W * a.R3.Y; c32 += b.R3.W * a.R3.Z; c33 += b.R3.W * a.R3.W;
            }
            int n0 = 4 * nq;
            ConvKernels.StorePixel(output, epilogue, bias, n0, 1, n, m0, m, plane, c00, c10, c20, c30);
            ConvKernels.StorePixel(output, epilogue, bias, n0, 1, n, m0 + 1, m, plane, c01, c11, c21, c31);
            ConvKernels.StorePixel(output, epilogue, bias, n0, 1, n, m0 + 2, m, plane, c02, c12, c22, c32);
            ConvKernels.StorePixel(output, epilogue, bias, n0, 1, n, m0 + 3, m, plane, c03, c13, c23, c33);
        }
    }
}

/// <summary>
/// Launches the CpuPacked variant. Scratch buffers, grown on demand: the quad-packed weight and
/// the pixel and dOutput panels.
/// </summary>
public sealed class CpuPackedConv2d : Conv2d
{
    private readonly Action<Index1D, int, ConvTaps, int, ArrayView<float>, ArrayView<float>> packWeight;
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, int, int, ArrayView<float>, ArrayView<float>> packPixels;
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>> packOutputs;
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardWeight;
    private readonly ScratchBuffer packed, panels, dPanels;
    private readonly ColumnInputGradient columns;

    public CpuPackedConv2d(Accelerator accelerator, LaunchPolicy policy) : base(accelerator, policy)
    {
        packWeight = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvTaps, int, ArrayView<float>, ArrayView<float>>(CpuPackedConvKernels.PackWeightQuads, policy.GroupSize);
        packPixels = accelerator.LoadKernel<ConvShape, int, int, ArrayView<float>, ArrayView<float>>(ConvKernels.PackPixels);
        forward = accelerator.LoadKernel<ConvShape, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(CpuPackedConvKernels.ForwardCpu);
        packOutputs = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>>(CpuPackedConvKernels.PackOutputs, policy.GroupSize);
        backwardWeight = accelerator.LoadKernel<ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(CpuPackedConvKernels.BackwardWeightCpu);
        packed = new ScratchBuffer(accelerator);
        panels = new ScratchBuffer(accelerator);
        dPanels = new ScratchBuffer(accelerator);
        columns = new ColumnInputGradient(accelerator, policy);
    }

    internal override void RunTaps(ConvTaps g, int epilogue, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output,
        int padY = 0, int padX = 0)
    {
        var s = g.Shape;
        int group = 4 * Policy.Lanes, nPad = (s.OutChannels + group - 1) / group * group;
        // The weight is in 4 x 4 quads, so its taps are padded to a multiple of 4 too.
        int kPad = ConvKernels.PadTo4(s.InChannels * s.KernelH * s.KernelW), packedSize = kPad * nPad;
        var w = packed.Get(packedSize);
        int t = Policy.Threads(packedSize);
        packWeight(t, t, g, nPad, weight, w);
        long pixelTiles = ((long)s.Batch * s.OutH * s.OutW + 3) / 4;
        var a = panels.Get(pixelTiles * 4 * kPad);
        packPixels(Accelerator.DefaultStream, Policy.RegisterGroups(pixelTiles), s, padY, padX, input, a);
        forward(Accelerator.DefaultStream, Policy.RegisterGroups(pixelTiles * (nPad / 4)), s, nPad, epilogue, a, w, bias, output);
    }

    public override void BackwardInput(ConvShape s, ArrayView<float> dOutput, ArrayView<float> weight, ArrayView<float> dInput)
    {
        if (!columns.Run(this, s, dOutput, weight, dInput)) base.BackwardInput(s, dOutput, weight, dInput);
    }

    public override void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight)
    {
        int kPad = ConvKernels.PadTo4(s.InChannels * s.KernelH * s.KernelW);
        // The input's im2col panels (as the forward pass builds them) and dOutput in 4 x 4 tiles.
        long pixelTiles = ((long)s.Batch * s.OutH * s.OutW + 3) / 4;
        var a = panels.Get(pixelTiles * 4 * kPad);
        packPixels(Accelerator.DefaultStream, Policy.RegisterGroups(pixelTiles), s, 0, 0, input, a);
        long dSize = pixelTiles * 4 * ConvKernels.PadTo4(s.OutChannels);
        var d = dPanels.Get(dSize);
        int td = Policy.Threads(dSize);
        packOutputs(td, td, s, dOutput, d);
        long quads = (long)kPad / 4 * (ConvKernels.PadTo4(s.OutChannels) / 4);
        backwardWeight(Accelerator.DefaultStream, Policy.RegisterGroups(quads), s, d, a, dWeight);
    }
}
