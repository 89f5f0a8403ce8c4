using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// 2-D convolution, stride 1, valid padding (PyTorch/Keras "valid"; cross-correlation).
// Shapes: B batch, C input channels, O output channels, H x W input, KH x KW kernel,
//         OH = H - KH + 1, OW = W - KW + 1, P = OH * OW output pixels per plane,
//         K = C * KH * KW taps per output.
// Layouts: input [B,C,H,W], weight [O,C,KH,KW], bias [O], output [B,O,OH,OW].
//
// All three passes are GEMMs in disguise ("implicit GEMM": the im2col matrix is never built):
//   forward         output[b,o,p]  = sum over k of weight[o,k] * input[b, tap k of pixel p]   (B*P x O, inner K)
//   backward input  dInput[b,c,q]  = the forward kernel run on dOutput zero-padded by KH-1, KW-1
//                                    with the weight flipped and transposed                 (B*H*W x C, inner O*KH*KW)
//   backward weight dWeight[o,k]   = sum over b, p of dOutput[b,o,p] * input[b, tap k of p]   (O x K, inner B*P)
// Each thread owns a 4 x 4 block of outputs in registers and sums it alone, in a fixed order:
// no atomics, deterministic. Dense layers reuse these kernels as 1x1 convolutions of 1x1 images.

/// <summary>Shape of a convolution.</summary>
public readonly record struct ConvShape(int Batch, int InChannels, int OutChannels, int Height, int Width, int KernelH, int KernelW)
{
    public int OutH => Height - KernelH + 1;
    public int OutW => Width - KernelW + 1;
    public int InputSize => Batch * InChannels * Height * Width;
    public int WeightSize => OutChannels * InChannels * KernelH * KernelW;
    public int OutputSize => Batch * OutChannels * OutH * OutW;
    /// <summary>Multiply-adds in the forward pass (each backward pass has as many).</summary>
    public long MultiplyAdds => (long)OutputSize * InChannels * KernelH * KernelW;
    public override string ToString() => $"B{Batch} C{InChannels} O{OutChannels} {Height}x{Width} k{KernelH}x{KernelW}";
}

/// <summary>
/// A convolution whose weight is read through strides, so one kernel serves both the forward
/// pass (weight [O,C,KH,KW] as is) and the backward input pass (weight flipped and with O and
/// C swapped). Weight element (n, c, ky, kx) is at WeightBase + n*StrideN + c*StrideC + ky*StrideY + kx*StrideX.
/// </summary>
public readonly record struct ConvTaps(ConvShape Shape, int WeightBase, int StrideN, int StrideC, int StrideY, int StrideX)
{
    /// <summary>The forward pass: weight as stored.</summary>
    public static ConvTaps Forward(ConvShape s) =>
        new(s, 0, s.InChannels * s.KernelH * s.KernelW, s.KernelH * s.KernelW, s.KernelW, 1);

    /// <summary>
    /// The backward input pass of <paramref name="s"/> as a forward convolution: input is dOutput
    /// padded by KH-1 rows and KW-1 columns of zeros on each side (O channels), outputs are the
    /// C input channels, and tap (ky, kx) reads weight[o, c, KH-1-ky, KW-1-kx].
    /// </summary>
    public static ConvTaps BackwardInput(ConvShape s)
    {
        int taps = s.KernelH * s.KernelW;
        var padded = new ConvShape(s.Batch, s.OutChannels, s.InChannels, s.OutH + 2 * (s.KernelH - 1), s.OutW + 2 * (s.KernelW - 1), s.KernelH, s.KernelW);
        return new(padded, taps - 1, taps, s.InChannels * taps, -s.KernelW, -1);
    }
}

/// <summary>The convolution kernels.</summary>
public static class Conv2dKernels
{
    /// <summary>
    /// output[b,n,y,x] = bias[n] (when <paramref name="useBias"/> is 1) + sum over c, ky, kx of
    /// weight(n,c,ky,kx) * input[b,c,y+ky,x+kx]. Register variant: a tile is 4 outputs n by
    /// 4 * lanes pixels; lane l owns pixels l + lanes*j (j &lt; 4) of its tile, so the lanes of a
    /// group read neighbouring input addresses while the 4 weights are the same for all lanes.
    /// Past the edges, loads are clamped to the last valid row/pixel and only stores are skipped,
    /// which keeps the inner loop free of branches for any shape.
    /// </summary>
    public static void Forward(ConvTaps g, int useBias,
        ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output)
    {
        var s = g.Shape;
        int lanes = Group.DimX, lane = Group.IdxX;
        int ow = s.OutW, plane = s.OutH * ow, inPlane = s.Height * s.Width, inImage = s.InChannels * inPlane;
        int m = s.Batch * plane, n = s.OutChannels, outImage = n * plane;
        int mTile = 4 * lanes, mTiles = (m + mTile - 1) / mTile, nTiles = (n + 3) / 4;
        for (int t = Grid.IdxX; t < mTiles * nTiles; t += Grid.DimX)
        {
            // Neighbouring tiles share pixels (different n), so their input stays in cache.
            int n0 = (t % nTiles) * 4, m0 = (t / nTiles) * mTile + lane;
            int p0 = Math.Min(m0, m - 1), p1 = Math.Min(m0 + lanes, m - 1), p2 = Math.Min(m0 + 2 * lanes, m - 1), p3 = Math.Min(m0 + 3 * lanes, m - 1);
            int i0 = InputCorner(p0, plane, ow, s.Width, inImage), i1 = InputCorner(p1, plane, ow, s.Width, inImage);
            int i2 = InputCorner(p2, plane, ow, s.Width, inImage), i3 = InputCorner(p3, plane, ow, s.Width, inImage);
            int w0 = g.WeightBase + n0 * g.StrideN, w1 = g.WeightBase + Math.Min(n0 + 1, n - 1) * g.StrideN;
            int w2 = g.WeightBase + Math.Min(n0 + 2, n - 1) * g.StrideN, w3 = g.WeightBase + Math.Min(n0 + 3, n - 1) * g.StrideN;
            float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
            for (int c = 0; c < s.InChannels; c++)
                for (int ky = 0; ky < s.KernelH; ky++)
                {
                    int inRow = c * inPlane + ky * s.Width, wRow = c * g.StrideC + ky * g.StrideY;
                    for (int kx = 0; kx < s.KernelW; kx++)
                    {
                        int wk = wRow + kx * g.StrideX, ik = inRow + kx;
                        float a0 = input[i0 + ik], a1 = input[i1 + ik], a2 = input[i2 + ik], a3 = input[i3 + ik];
                        float b0 = weight[w0 + wk], b1 = weight[w1 + wk], b2 = weight[w2 + wk], b3 = weight[w3 + wk];
                        c00 += b0 * a0; c01 += b0 * a1; c02 += b0 * a2; c03 += b0 * a3;
                        c10 += b1 * a0; c11 += b1 * a1; c12 += b1 * a2; c13 += b1 * a3;
                        c20 += b2 * a0; c21 += b2 * a1; c22 += b2 * a2; c23 += b2 * a3;
                        c30 += b3 * a0; c31 += b3 * a1; c32 += b3 * a2; c33 += b3 * a3;
                    }
                }
            StoreColumn(output, useBias, bias, n0, n, m0, m, plane, outImage, c00, c10, c20, c30);
            StoreColumn(output, useBias, bias, n0, n, m0 + lanes, m, plane, outImage, c01, c11, c21, c31);
            StoreColumn(output, useBias, bias, n0, n, m0 + 2 * lanes, m, plane, outImage, c02, c12, c22, c32);
            StoreColumn(output, useBias, bias, n0, n, m0 + 3 * lanes, m, plane, outImage, c03, c13, c23, c33);
        }
    }

    /// <summary>Offset of input[b, 0, y, x] for flat output pixel index <paramref name="p"/> = b*plane + y*ow + x.</summary>
    private static int InputCorner(int p, int plane, int ow, int width, int inImage)
    {
        int b = p / plane, r = p - b * plane, y = r / ow;
        return b * inImage + y * width + (r - y * ow);
    }

    /// <summary>Stores one output pixel's 4 channels n0..n0+3 (those that exist), adding the bias first.</summary>
    private static void StoreColumn(ArrayView<float> output, int useBias, ArrayView<float> bias, int n0, int n, int p, int m, int plane, int outImage,
        float v0, float v1, float v2, float v3)
    {
        if (p >= m) return;
        int b = p / plane, at = b * outImage + (p - b * plane) + n0 * plane;
        if (useBias != 0)
        {
            v0 += bias[n0];
            if (n0 + 1 < n) v1 += bias[n0 + 1];
            if (n0 + 2 < n) v2 += bias[n0 + 2];
            if (n0 + 3 < n) v3 += bias[n0 + 3];
        }
        output[at] = v0;
        if (n0 + 1 < n) output[at + plane] = v1;
        if (n0 + 2 < n) output[at + 2 * plane] = v2;
        if (n0 + 3 < n) output[at + 3 * plane] = v3;
    }

    /// <summary>
    /// dOutput zero-padded by KH-1 rows and KW-1 columns on every side: padded[b,o,py,px] =
    /// dOutput[b,o,py-(KH-1),px-(KW-1)] inside, 0 outside. Writes every element, so the scratch
    /// buffer needs no clearing.
    /// </summary>
    public static void PadGradient(Index1D thread, int threads, ConvShape s, ArrayView<float> dOutput, ArrayView<float> padded)
    {
        int oh = s.OutH, ow = s.OutW, ph = oh + 2 * (s.KernelH - 1), pw = ow + 2 * (s.KernelW - 1);
        int total = s.Batch * s.OutChannels * ph * pw;
        for (int i = thread; i < total; i += threads)
        {
            int px = i % pw, r = i / pw;
            int py = r % ph, q = r / ph;
            int y = py - (s.KernelH - 1), x = px - (s.KernelW - 1);
            padded[i] = y >= 0 && y < oh && x >= 0 && x < ow ? dOutput[(q * oh + y) * ow + x] : 0f;
        }
    }

    /// <summary>
    /// dWeight[o,k] = sum over b, y, x of dOutput[b,o,y,x] * input[b, c, y+ky, x+kx] where tap
    /// k = (c, ky, kx). A tile is 4 output channels by 4 * lanes taps; lane l owns taps l + lanes*j.
    /// The 4 dOutput values of a step are the same for all lanes of a group.
    /// </summary>
    public static void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight)
    {
        int lanes = Group.DimX, lane = Group.IdxX;
        int oh = s.OutH, ow = s.OutW, plane = oh * ow, inPlane = s.Height * s.Width, inImage = s.InChannels * inPlane;
        int taps = s.KernelH * s.KernelW, kCount = s.InChannels * taps, o = s.OutChannels;
        int kTile = 4 * lanes, kTiles = (kCount + kTile - 1) / kTile, oTiles = (o + 3) / 4;
        for (int t = Grid.IdxX; t < kTiles * oTiles; t += Grid.DimX)
        {
            int o0 = (t % oTiles) * 4, k0 = (t / oTiles) * kTile + lane;
            int a0 = TapOffset(Math.Min(k0, kCount - 1), taps, s.KernelW, s.Width, inPlane);
            int a1 = TapOffset(Math.Min(k0 + lanes, kCount - 1), taps, s.KernelW, s.Width, inPlane);
            int a2 = TapOffset(Math.Min(k0 + 2 * lanes, kCount - 1), taps, s.KernelW, s.Width, inPlane);
            int a3 = TapOffset(Math.Min(k0 + 3 * lanes, kCount - 1), taps, s.KernelW, s.Width, inPlane);
            int d0 = o0 * plane, d1 = Math.Min(o0 + 1, o - 1) * plane, d2 = Math.Min(o0 + 2, o - 1) * plane, d3 = Math.Min(o0 + 3, o - 1) * plane;
            float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
            for (int b = 0; b < s.Batch; b++)
                for (int y = 0; y < oh; y++)
                {
                    int inRow = b * inImage + y * s.Width, dRow = (b * o * oh + y) * ow;
                    for (int x = 0; x < ow; x++)
                    {
                        int ix = inRow + x, dx = dRow + x;
                        float e0 = dOutput[d0 + dx], e1 = dOutput[d1 + dx], e2 = dOutput[d2 + dx], e3 = dOutput[d3 + dx];
                        float v0 = input[a0 + ix], v1 = input[a1 + ix], v2 = input[a2 + ix], v3 = input[a3 + ix];
                        c00 += e0 * v0; c01 += e0 * v1; c02 += e0 * v2; c03 += e0 * v3;
                        c10 += e1 * v0; c11 += e1 * v1; c12 += e1 * v2; c13 += e1 * v3;
                        c20 += e2 * v0; c21 += e2 * v1; c22 += e2 * v2; c23 += e2 * v3;
                        c30 += e3 * v0; c31 += e3 * v1; c32 += e3 * v2; c33 += e3 * v3;
                    }
                }
            StoreWeightColumn(dWeight, o0, o, k0, kCount, c00, c10, c20, c30);
            StoreWeightColumn(dWeight, o0, o, k0 + lanes, kCount, c01, c11, c21, c31);
            StoreWeightColumn(dWeight, o0, o, k0 + 2 * lanes, kCount, c02, c12, c22, c32);
            StoreWeightColumn(dWeight, o0, o, k0 + 3 * lanes, kCount, c03, c13, c23, c33);
        }
    }

    /// <summary>Offset of input[0, c, ky, kx] for tap k = (c*KH + ky)*KW + kx.</summary>
    private static int TapOffset(int k, int taps, int kw, int width, int inPlane)
    {
        int c = k / taps, r = k - c * taps, ky = r / kw;
        return c * inPlane + ky * width + (r - ky * kw);
    }

    private static void StoreWeightColumn(ArrayView<float> dWeight, int o0, int o, int k, int kCount, float v0, float v1, float v2, float v3)
    {
        if (k >= kCount) return;
        dWeight[o0 * kCount + k] = v0;
        if (o0 + 1 < o) dWeight[(o0 + 1) * kCount + k] = v1;
        if (o0 + 2 < o) dWeight[(o0 + 2) * kCount + k] = v2;
        if (o0 + 3 < o) dWeight[(o0 + 3) * kCount + k] = v3;
    }

    /// <summary>dBias[o] = sum over b, y, x of dOutput[b,o,y,x].</summary>
    public static void BackwardBias(Index1D thread, int threads, ConvShape s, ArrayView<float> dOutput, ArrayView<float> dBias)
    {
        int plane = s.OutH * s.OutW;
        for (int o = thread; o < s.OutChannels; o += threads)
        {
            float acc = 0f;
            for (int b = 0; b < s.Batch; b++)
            {
                int start = (b * s.OutChannels + o) * plane;
                for (int p = 0; p < plane; p++) acc += dOutput[start + p];
            }
            dBias[o] = acc;
        }
    }
}

/// <summary>
/// Launches the convolution kernels on one accelerator (compiled once, in the constructor).
/// Owns one scratch buffer, the padded dOutput of the backward input pass, grown on demand.
/// </summary>
public sealed class Conv2d
{
    private readonly Accelerator accelerator;
    private readonly LaunchPolicy policy;
    private readonly Action<AcceleratorStream, KernelConfig, ConvTaps, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardWeight;
    private readonly Action<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>> padGradient, backwardBias;
    private MemoryBuffer1D<float, Stride1D.Dense>? padded;

    public Conv2d(Accelerator accelerator, LaunchPolicy policy)
    {
        this.accelerator = accelerator;
        this.policy = policy;
        forward = accelerator.LoadKernel<ConvTaps, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.Forward);
        backwardWeight = accelerator.LoadKernel<ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.BackwardWeight);
        padGradient = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>>(Conv2dKernels.PadGradient);
        backwardBias = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>>(Conv2dKernels.BackwardBias);
    }

    public void Forward(ConvShape s, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output) =>
        RunTaps(ConvTaps.Forward(s), 1, input, weight, bias, output);

    /// <summary>Runs <paramref name="g"/> as a forward convolution (the GEMM core shared with <see cref="Dense"/>).</summary>
    internal void RunTaps(ConvTaps g, int useBias, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output)
    {
        var s = g.Shape;
        long tiles = Tiles((long)s.Batch * s.OutH * s.OutW, s.OutChannels);
        forward(accelerator.DefaultStream, policy.RegisterGroups(tiles), g, useBias, input, weight, bias, output);
    }

    public void BackwardInput(ConvShape s, ArrayView<float> dOutput, ArrayView<float> weight, ArrayView<float> dInput)
    {
        var g = ConvTaps.BackwardInput(s);
        var pad = Scratch(g.Shape.InputSize);
        int t = policy.Threads(g.Shape.InputSize);
        padGradient(t, t, s, dOutput, pad);
        // No bias: the bias view is never read when useBias is 0.
        RunTaps(g, 0, pad, weight, weight, dInput);
    }

    public void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight)
    {
        long tiles = Tiles(s.InChannels * s.KernelH * s.KernelW, s.OutChannels);
        backwardWeight(accelerator.DefaultStream, policy.RegisterGroups(tiles), s, dOutput, input, dWeight);
    }

    public void BackwardBias(ConvShape s, ArrayView<float> dOutput, ArrayView<float> dBias)
    {
        int t = policy.Threads(s.OutChannels);
        backwardBias(t, t, s, dOutput, dBias);
    }

    /// <summary>Tiles of 4 rows by 4 * lanes lane-interleaved columns covering <paramref name="columns"/> x <paramref name="rows"/>.</summary>
    private long Tiles(long columns, long rows) => (columns + 4L * policy.Lanes - 1) / (4L * policy.Lanes) * ((rows + 3) / 4);

    private ArrayView<float> Scratch(long size)
    {
        if (padded is null || padded.Length < size)
        {
            // Work queued earlier may still read the old buffer.
            accelerator.Synchronize();
            padded?.Dispose();
            padded = accelerator.Allocate1D<float>(size);
        }
        return padded.View.SubView(0, size);
    }
}
