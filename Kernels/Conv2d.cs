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
// Each thread owns a block of outputs in registers (4 x 4, or 8 pixels x 4 channels in the register
// variant's forward pass) and sums it alone, in a fixed order:
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

/// <summary>
/// What the GEMM kernels do to each output before storing it (flags): add the bias, then apply
/// ReLU. Fusing them saves a pass over the activation (a ReLU kernel reads and writes it all again).
/// </summary>
public static class Epilogue
{
    public const int None = 0, Bias = 1, Relu = 2, BiasRelu = Bias | Relu;
}

/// <summary>The convolution kernels.</summary>
public static class Conv2dKernels
{
    /// <summary>
    /// packed[k * nPad + n] = weight(n, k) for tap k = (c*KH + ky)*KW + kx, zero for n &gt;= N:
    /// the weight transposed so that the output channels a group works on lie side by side, and
    /// padded so the GEMM loop needs no edge test. Small (O*K floats); rebuilt every call.
    /// </summary>
    public static void PackWeight(Index1D thread, int threads, ConvTaps g, int nPad, ArrayView<float> weight, ArrayView<float> packed)
    {
        var s = g.Shape;
        int taps = s.KernelH * s.KernelW, total = s.InChannels * taps * nPad;
        for (int i = thread; i < total; i += threads)
        {
            int k = i / nPad, n = i - k * nPad;
            int c = k / taps, r = k - c * taps, ky = r / s.KernelW, kx = r - ky * s.KernelW;
            // Clamped load, then select (a load under the condition is a branch PoCL cannot vectorise across work-items).
            float v = weight[g.WeightBase + Math.Min(n, s.OutChannels - 1) * g.StrideN + c * g.StrideC + ky * g.StrideY + kx * g.StrideX];
            packed[i] = n < s.OutChannels ? v : 0f;
        }
    }

    /// <summary>Output pixels per tile of the register variant's forward pass (all lanes of a group share them).</summary>
    public const int RegisterPixels = 8;

    /// <summary>
    /// output[b,n,y,x] = bias[n] (with <see cref="Epilogue.Bias"/>) + sum over taps k = (c, ky, kx)
    /// of packed[k, n] * input[b,c,y+ky,x+kx]. Register variant: a group takes 8 output pixels
    /// (<see cref="RegisterPixels"/>; the same for all its lanes, so input reads are broadcasts) and
    /// walks the output channels 4 * lanes at a time; lane l owns channels l + lanes*j (j &lt; 4), so
    /// neighbouring lanes read neighbouring packed weights. Each tap costs 8 broadcast loads and 4
    /// weight loads for 32 multiply-adds (4 pixels gave 16 for 8 loads: conv2 forward ran at ~17.5
    /// GFLOP/s on PoCL, now ~27.7 with the kx loop unrolled below).
    /// Every output is still summed by its own lane over the taps in order c, ky, kx.
    /// Pixels past the end are clamped to the last one for loads and skipped for stores, so the
    /// inner loop has no branches for any shape.
    /// When <paramref name="input"/> is zero-padded by <paramref name="padY"/> rows and <paramref name="padX"/>
    /// columns (the backward input pass), taps outside the bounding box of the taps that reach real
    /// input for one of the tile's pixels are skipped: they would add exact zeros (to a sum that
    /// starts at +0, so the result is the same bit for bit), and at conv2's backward input shape
    /// they are a tenth of the multiply-adds.
    /// </summary>
    public static void Forward(ConvShape s, int nPad, int epilogue, int padY, int padX,
        ArrayView<float> input, ArrayView<float> packed, ArrayView<float> bias, ArrayView<float> output)
    {
        int lanes = Group.DimX, lane = Group.IdxX;
        int ow = s.OutW, plane = s.OutH * ow, inPlane = s.Height * s.Width, inImage = s.InChannels * inPlane;
        int m = s.Batch * plane, n = s.OutChannels, mTiles = (m + RegisterPixels - 1) / RegisterPixels;
        int taps = s.KernelH * s.KernelW, realH = s.Height - 2 * padY, realW = s.Width - 2 * padX;
        for (int t = Grid.IdxX; t < mTiles; t += Grid.DimX)
        {
            int m0 = RegisterPixels * t, mLast = Math.Min(m0 + RegisterPixels - 1, m - 1);
            int i0 = InputCorner(m0, plane, ow, s.Width, inImage), i1 = InputCorner(Math.Min(m0 + 1, mLast), plane, ow, s.Width, inImage);
            int i2 = InputCorner(Math.Min(m0 + 2, mLast), plane, ow, s.Width, inImage), i3 = InputCorner(Math.Min(m0 + 3, mLast), plane, ow, s.Width, inImage);
            int i4 = InputCorner(Math.Min(m0 + 4, mLast), plane, ow, s.Width, inImage), i5 = InputCorner(Math.Min(m0 + 5, mLast), plane, ow, s.Width, inImage);
            int i6 = InputCorner(Math.Min(m0 + 6, mLast), plane, ow, s.Width, inImage), i7 = InputCorner(mLast, plane, ow, s.Width, inImage);
            int kyLo = 0, kyHi = s.KernelH - 1, kxLo = 0, kxHi = s.KernelW - 1;
            if (padY != 0 || padX != 0)
            {
                // Rows yFirst..yLast and columns xFirst..xLast hold the tile's pixels (the same for the whole
                // group, so the tap bounds are too). A tile across two images takes every row, one
                // across two rows every column. (Unpadded, every tap is real: no divisions spent.)
                int bFirst = m0 / plane, bLast = mLast / plane;
                int r0 = m0 - bFirst * plane, rLast = mLast - bLast * plane;
                bool oneImage = bFirst == bLast;
                int yFirst = oneImage ? r0 / ow : 0, yLast = oneImage ? rLast / ow : s.OutH - 1;
                bool oneRow = oneImage && yFirst == yLast;
                int xFirst = oneRow ? r0 - yFirst * ow : 0, xLast = oneRow ? rLast - yLast * ow : ow - 1;
                // Tap (ky, kx) of pixel (y, x) reads real input when padY <= y + ky < padY + realH (and likewise for x).
                kyLo = Math.Max(0, padY - yLast); kyHi = Math.Min(s.KernelH - 1, padY + realH - 1 - yFirst);
                kxLo = Math.Max(0, padX - xLast); kxHi = Math.Min(s.KernelW - 1, padX + realW - 1 - xFirst);
            }
            for (int n0 = lane; n0 < nPad; n0 += 4 * lanes)
            {
                // c{j}{i}: channel n0 + lanes*j, pixel m0 + i.
                float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0;
                float c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0;
                float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0;
                float c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0;
                for (int c = 0; c < s.InChannels; c++)
                    for (int ky = kyLo; ky <= kyHi; ky++)
                    {
                        int inRow = c * inPlane + ky * s.Width;
                        int w = (c * taps + ky * s.KernelW + kxLo) * nPad + n0;
                        int kx = kxLo, ik = inRow + kxLo;
                        // Three taps per step, still in order (3 x 3 kernels take exactly one step per row,
                        // the rest of a row falls to the plain loop below). Measured on PoCL, conv2 forward:
                        // 16.3 ms with 4 pixels, 14.6 with 8 pixels, 10.3 with 8 pixels and this unrolling.
                        // (Likely because PoCL runs each step of a loop as one pass over the group's lanes,
                        // so fewer, fatter steps carry the 32 accumulators across fewer step boundaries.)
                        // All nine taps of a 3 x 3 box in one step measured slower: 14.4 ms.
                        for (; kx + 2 <= kxHi; kx += 3, ik += 3, w += 3 * nPad)
                        {
                            {
                                float a0 = input[i0 + ik], a1 = input[i1 + ik], a2 = input[i2 + ik], a3 = input[i3 + ik];
                                float a4 = input[i4 + ik], a5 = input[i5 + ik], a6 = input[i6 + ik], a7 = input[i7 + ik];
                                float b0 = packed[w], b1 = packed[w + lanes], b2 = packed[w + 2 * lanes], b3 = packed[w + 3 * lanes];
                                c00 += b0 * a0; c01 += b0 * a1; c02 += b0 * a2; c03 += b0 * a3; c04 += b0 * a4; c05 += b0 * a5; c06 += b0 * a6; c07 += b0 * a7;
                                c10 += b1 * a0; c11 += b1 * a1; c12 += b1 * a2; c13 += b1 * a3; c14 += b1 * a4; c15 += b1 * a5; c16 += b1 * a6; c17 += b1 * a7;
                                c20 += b2 * a0; c21 += b2 * a1; c22 += b2 * a2; c23 += b2 * a3; c24 += b2 * a4; c25 += b2 * a5; c26 += b2 * a6; c27 += b2 * a7;
                                c30 += b3 * a0; c31 += b3 * a1; c32 += b3 * a2; c33 += b3 * a3; c34 += b3 * a4; c35 += b3 * a5; c36 += b3 * a6; c37 += b3 * a7;
                            }
                            {
                                float a0 = input[i0 + ik + 1], a1 = input[i1 + ik + 1], a2 = input[i2 + ik + 1], a3 = input[i3 + ik + 1];
                                float a4 = input[i4 + ik + 1], a5 = input[i5 + ik + 1], a6 = input[i6 + ik + 1], a7 = input[i7 + ik + 1];
                                float b0 = packed[w + nPad], b1 = packed[w + nPad + lanes], b2 = packed[w + nPad + 2 * lanes], b3 = packed[w + nPad + 3 * lanes];
                                c00 += b0 * a0; c01 += b0 * a1; c02 += b0 * a2; c03 += b0 * a3; c04 += b0 * a4; c05 += b0 * a5; c06 += b0 * a6; c07 += b0 * a7;
                                c10 += b1 * a0; c11 += b1 * a1; c12 += b1 * a2; c13 += b1 * a3; c14 += b1 * a4; c15 += b1 * a5; c16 += b1 * a6; c17 += b1 * a7;
                                c20 += b2 * a0; c21 += b2 * a1; c22 += b2 * a2; c23 += b2 * a3; c24 += b2 * a4; c25 += b2 * a5; c26 += b2 * a6; c27 += b2 * a7;
                                c30 += b3 * a0; c31 += b3 * a1; c32 += b3 * a2; c33 += b3 * a3; c34 += b3 * a4; c35 += b3 * a5; c36 += b3 * a6; c37 += b3 * a7;
                            }
                            {
                                float a0 = input[i0 + ik + 2], a1 = input[i1 + ik + 2], a2 = input[i2 + ik + 2], a3 = input[i3 + ik + 2];
                                float a4 = input[i4 + ik + 2], a5 = input[i5 + ik + 2], a6 = input[i6 + ik + 2], a7 = input[i7 + ik + 2];
                                float b0 = packed[w + 2 * nPad], b1 = packed[w + 2 * nPad + lanes], b2 = packed[w + 2 * nPad + 2 * lanes], b3 = packed[w + 2 * nPad + 3 * lanes];
                                c00 += b0 * a0; c01 += b0 * a1; c02 += b0 * a2; c03 += b0 * a3; c04 += b0 * a4; c05 += b0 * a5; c06 += b0 * a6; c07 += b0 * a7;
                                c10 += b1 * a0; c11 += b1 * a1; c12 += b1 * a2; c13 += b1 * a3; c14 += b1 * a4; c15 += b1 * a5; c16 += b1 * a6; c17 += b1 * a7;
                                c20 += b2 * a0; c21 += b2 * a1; c22 += b2 * a2; c23 += b2 * a3; c24 += b2 * a4; c25 += b2 * a5; c26 += b2 * a6; c27 += b2 * a7;
                                c30 += b3 * a0; c31 += b3 * a1; c32 += b3 * a2; c33 += b3 * a3; c34 += b3 * a4; c35 += b3 * a5; c36 += b3 * a6; c37 += b3 * a7;
                            }
                        }
                        for (; kx <= kxHi; kx++, ik++, w += nPad)
                        {
                            float a0 = input[i0 + ik], a1 = input[i1 + ik], a2 = input[i2 + ik], a3 = input[i3 + ik];
                            float a4 = input[i4 + ik], a5 = input[i5 + ik], a6 = input[i6 + ik], a7 = input[i7 + ik];
                            float b0 = packed[w], b1 = packed[w + lanes], b2 = packed[w + 2 * lanes], b3 = packed[w + 3 * lanes];
                            c00 += b0 * a0; c01 += b0 * a1; c02 += b0 * a2; c03 += b0 * a3; c04 += b0 * a4; c05 += b0 * a5; c06 += b0 * a6; c07 += b0 * a7;
                            c10 += b1 * a0; c11 += b1 * a1; c12 += b1 * a2; c13 += b1 * a3; c14 += b1 * a4; c15 += b1 * a5; c16 += b1 * a6; c17 += b1 * a7;
                            c20 += b2 * a0; c21 += b2 * a1; c22 += b2 * a2; c23 += b2 * a3; c24 += b2 * a4; c25 += b2 * a5; c26 += b2 * a6; c27 += b2 * a7;
                            c30 += b3 * a0; c31 += b3 * a1; c32 += b3 * a2; c33 += b3 * a3; c34 += b3 * a4; c35 += b3 * a5; c36 += b3 * a6; c37 += b3 * a7;
                        }
                    }
                StorePixel(output, epilogue, bias, n0, lanes, n, m0, m, plane, c00, c10, c20, c30);
                StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 1, m, plane, c01, c11, c21, c31);
                StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 2, m, plane, c02, c12, c22, c32);
                StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 3, m, plane, c03, c13, c23, c33);
                StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 4, m, plane, c04, c14, c24, c34);
                StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 5, m, plane, c05, c15, c25, c35);
                StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 6, m, plane, c06, c16, c26, c36);
                StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 7, m, plane, c07, c17, c27, c37);
            }
        }
    }

    /// <summary>
    /// CpuPacked variant, step 1: the im2col matrix in panels of 4 output pixels,
    /// panels[(t*KPad + k)*4 + j] = input[b, c, y+ky-padY, x+kx-padX] for pixel 4t + j (clamped to
    /// the last pixel) and tap k = (c, ky, kx), zero outside the real input and for the taps
    /// K..KPad-1 that pad K to a multiple of 4 (so the GEMMs read whole 4-tap quads, see
    /// <see cref="Float4x4"/>). <paramref name="s"/> is the convolution as if the input were
    /// padded by padY/padX on every side (the backward input pass reads dOutput this way,
    /// without building the padded copy). The forward and the backward weight pass share it.
    /// </summary>
    public static void PackPixels(ConvShape s, int padY, int padX, ArrayView<float> input, ArrayView<float> panels)
    {
        var panels4 = panels.Cast<Float4>();
        int ow = s.OutW, plane = s.OutH * ow, h = s.Height - 2 * padY, w = s.Width - 2 * padX, inPlane = h * w;
        int m = s.Batch * plane, mTiles = (m + 3) / 4, kPad = PadTo4(s.InChannels * s.KernelH * s.KernelW);
        var zero = new Float4();
        for (int t = Grid.GlobalIndex.X; t < mTiles; t += Grid.DimX * Group.DimX)
        {
            // Top-left input corner (in unpadded coordinates) and image of each of the 4 pixels.
            int b0 = Pixel(4 * t, m, plane, ow, out int y0, out int x0), b1 = Pixel(4 * t + 1, m, plane, ow, out int y1, out int x1);
            int b2 = Pixel(4 * t + 2, m, plane, ow, out int y2, out int x2), b3 = Pixel(4 * t + 3, m, plane, ow, out int y3, out int x3);
            int at = t * kPad, end = at + kPad;
            for (int c = 0; c < s.InChannels; c++)
                for (int ky = 0; ky < s.KernelH; ky++)
                    for (int kx = 0; kx < s.KernelW; kx++, at++)
                    {
                        Float4 v;
                        v.X = Tap(input, b0, c, s.InChannels, y0 + ky - padY, x0 + kx - padX, h, w, inPlane);
                        v.Y = Tap(input, b1, c, s.InChannels, y1 + ky - padY, x1 + kx - padX, h, w, inPlane);
                        v.Z = Tap(input, b2, c, s.InChannels, y2 + ky - padY, x2 + kx - padX, h, w, inPlane);
                        v.W = Tap(input, b3, c, s.InChannels, y3 + ky - padY, x3 + kx - padX, h, w, inPlane);
                        panels4[at] = v;
                    }
            for (; at < end; at++) panels4[at] = zero;
        }
    }

    /// <summary>n rounded up to a multiple of 4.</summary>
    public static int PadTo4(int n) => (n + 3) & ~3;

    /// <summary>
    /// CpuPacked variant: the weight in 4 x 4 quads, packed[((kq*NQ + nq)*4 + i)*4 + j] = weight(n = 4nq + j,
    /// k = 4kq + i) (read through the strides of <paramref name="g"/>), zero for n &gt;= N or k &gt;= K:
    /// one <see cref="Float4x4"/> holds 4 taps of 4 output channels.
    /// </summary>
    public static void PackWeightQuads(Index1D thread, int threads, ConvTaps g, int nPad, ArrayView<float> weight, ArrayView<float> packed)
    {
        var s = g.Shape;
        int taps = s.KernelH * s.KernelW, kCount = s.InChannels * taps, total = PadTo4(kCount) * nPad, nQuads = nPad / 4;
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
        int plane = s.OutH * s.OutW, m = s.Batch * plane, o = s.OutChannels, oPad = PadTo4(o);
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
        int kCount = s.InChannels * s.KernelH * s.KernelW, kQuads = PadTo4(kCount) / 4, o = s.OutChannels, oQuads = PadTo4(o) / 4;
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
            StoreWeightColumn(dWeight, o0, o, k0, kCount, c00, c10, c20, c30);
            StoreWeightColumn(dWeight, o0, o, k0 + 1, kCount, c01, c11, c21, c31);
            StoreWeightColumn(dWeight, o0, o, k0 + 2, kCount, c02, c12, c22, c32);
            StoreWeightColumn(dWeight, o0, o, k0 + 3, kCount, c03, c13, c23, c33);
        }
    }

    /// <summary>Image b, row y and column x of flat output pixel min(p, m-1).</summary>
    private static int Pixel(int p, int m, int plane, int ow, out int y, out int x)
    {
        p = Math.Min(p, m - 1);
        int b = p / plane, r = p - b * plane;
        y = r / ow;
        x = r - y * ow;
        return b;
    }

    private static float Tap(ArrayView<float> input, int b, int c, int channels, int y, int x, int h, int w, int inPlane) =>
        y >= 0 && y < h && x >= 0 && x < w ? input[(b * channels + c) * inPlane + y * w + x] : 0f;

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
        int plane = s.OutH * s.OutW, kQuads = PadTo4(s.InChannels * s.KernelH * s.KernelW) / 4;
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
            StorePixel(output, epilogue, bias, n0, 1, n, m0, m, plane, c00, c10, c20, c30);
            StorePixel(output, epilogue, bias, n0, 1, n, m0 + 1, m, plane, c01, c11, c21, c31);
            StorePixel(output, epilogue, bias, n0, 1, n, m0 + 2, m, plane, c02, c12, c22, c32);
            StorePixel(output, epilogue, bias, n0, 1, n, m0 + 3, m, plane, c03, c13, c23, c33);
        }
    }

    // ---- SharedTiled variant: classic shared-memory tiling for real GPUs ----

    /// <summary>
    /// SharedTiled: a group computes a TileM x TileN tile of outputs and walks the sum in steps of
    /// TileK, staging one TileK x TileM and one TileK x TileN operand tile in shared memory per step.
    /// </summary>
    public const int TileM = 32, TileN = 32, TileK = 16;

    /// <summary>
    /// 4 x 4 register blocks per tile. Block (ty, tx) owns rows ty + 8i and columns tx + 8j
    /// (i, j &lt; 4): threads of a warp with neighbouring tx read neighbouring shared words, and
    /// those with the same ty read the same word (a broadcast).
    /// </summary>
    public const int TileBlocks = TileM / 4 * (TileN / 4);

    /// <summary>
    /// SharedTiled forward (and backward input): output[b,n,y,x] = epilogue(sum over taps k of
    /// A[m,k] * B[k,n]), A the implicit im2col matrix of <paramref name="input"/> (read with the
    /// padding of <paramref name="padY"/>, <paramref name="padX"/> as zeros, so the backward input
    /// pass needs no padded copy), B the weight read through the strides of <paramref name="g"/>.
    /// Taps past K, pixels past M and channels past N load as zeros; stores skip them. Each output
    /// is summed by one thread over k = 0, 1, ... in order, as in the other variants.
    /// </summary>
    public static void ForwardTiled(ConvTaps g, int padY, int padX, int epilogue,
        ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output)
    {
        var aTile = SharedMemory.Allocate<float>(TileK * TileM); // aTile[kk*TileM + mm] = A[m0+mm, k0+kk]
        var bTile = SharedMemory.Allocate<float>(TileK * TileN); // bTile[kk*TileN + nn] = B[k0+kk, n0+nn]
        var s = g.Shape;
        int ow = s.OutW, plane = s.OutH * ow, h = s.Height - 2 * padY, w = s.Width - 2 * padX;
        int taps = s.KernelH * s.KernelW, kCount = s.InChannels * taps, m = s.Batch * plane, n = s.OutChannels;
        int nTiles = (n + TileN - 1) / TileN, tiles = (m + TileM - 1) / TileM * nTiles;
        // Every loop bound below is the same for the whole group, so every thread reaches every barrier.
        for (int tile = Grid.IdxX; tile < tiles; tile += Grid.DimX)
        {
            int m0 = tile / nTiles * TileM, n0 = tile % nTiles * TileN;
            // A group smaller than TileBlocks takes the blocks in rounds (see LaunchPolicy.TiledGroupSize).
            for (int round = 0; round < TileBlocks; round += Group.DimX)
            {
                int block = Math.Min(round + Group.IdxX, TileBlocks - 1), ty = block / (TileN / 4), tx = block % (TileN / 4);
                float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
                float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
                for (int k0 = 0; k0 < kCount; k0 += TileK)
                {
                    for (int i = Group.IdxX; i < TileK * TileM; i += Group.DimX)
                    {
                        // Pixel fastest: neighbouring threads read neighbouring input columns.
                        int kk = i / TileM;
                        aTile[i] = ImageTap(input, s, padY, padX, h, w, m0 + i - kk * TileM, m, k0 + kk, kCount);
                    }
                    for (int i = Group.IdxX; i < TileK * TileN; i += Group.DimX)
                    {
                        int kk = i / TileN;
                        bTile[i] = WeightTap(weight, g, k0 + kk, kCount, n0 + i - kk * TileN);
                    }
                    Group.Barrier();
                    for (int kk = 0; kk < TileK; kk++)
                    {
                        int ai = kk * TileM + ty, bi = kk * TileN + tx;
                        float a0 = aTile[ai], a1 = aTile[ai + 8], a2 = aTile[ai + 16], a3 = aTile[ai + 24];
                        float b0 = bTile[bi], b1 = bTile[bi + 8], b2 = bTile[bi + 16], b3 = bTile[bi + 24];
                        c00 += b0 * a0; c01 += b0 * a1; c02 += b0 * a2; c03 += b0 * a3;
                        c10 += b1 * a0; c11 += b1 * a1; c12 += b1 * a2; c13 += b1 * a3;
                        c20 += b2 * a0; c21 += b2 * a1; c22 += b2 * a2; c23 += b2 * a3;
                        c30 += b3 * a0; c31 += b3 * a1; c32 += b3 * a2; c33 += b3 * a3;
                    }
                    // Nobody may overwrite the tiles while a slower thread still reads them.
                    Group.Barrier();
                }
                if (round + Group.IdxX < TileBlocks)
                {
                    // c{j}{i}: channel n0 + tx + 8j, pixel m0 + ty + 8i.
                    StorePixel(output, epilogue, bias, n0 + tx, 8, n, m0 + ty, m, plane, c00, c10, c20, c30);
                    StorePixel(output, epilogue, bias, n0 + tx, 8, n, m0 + ty + 8, m, plane, c01, c11, c21, c31);
                    StorePixel(output, epilogue, bias, n0 + tx, 8, n, m0 + ty + 16, m, plane, c02, c12, c22, c32);
                    StorePixel(output, epilogue, bias, n0 + tx, 8, n, m0 + ty + 24, m, plane, c03, c13, c23, c33);
                }
            }
        }
    }

    /// <summary>
    /// im2col[p, k] of an input read as if padded by padY/padX (input is h x w, s the padded shape):
    /// input[b, c, y+ky-padY, x+kx-padX] for pixel p = (b, y, x) and tap k = (c, ky, kx); 0 outside
    /// the input and for p &gt;= m or k &gt;= kCount. Loads from a clamped position, then selects.
    /// </summary>
    private static float ImageTap(ArrayView<float> input, ConvShape s, int padY, int padX, int h, int w, int p, int m, int k, int kCount)
    {
        int plane = s.OutH * s.OutW, taps = s.KernelH * s.KernelW;
        int pc = Math.Min(p, m - 1), kc = Math.Min(k, kCount - 1);
        int b = pc / plane, r = pc - b * plane, y = r / s.OutW, x = r - y * s.OutW;
        int c = kc / taps, t = kc - c * taps, ky = t / s.KernelW, kx = t - ky * s.KernelW;
        int iy = y + ky - padY, ix = x + kx - padX;
        // (Math.Clamp has a throw path ILGPU cannot compile.)
        float v = input[((b * s.InChannels + c) * h + Math.Min(Math.Max(iy, 0), h - 1)) * w + Math.Min(Math.Max(ix, 0), w - 1)];
        return p < m && k < kCount && iy >= 0 && iy < h && ix >= 0 && ix < w ? v : 0f;
    }

    /// <summary>weight(n, k) through the strides of <paramref name="g"/>; 0 for k &gt;= kCount or n &gt;= N.</summary>
    private static float WeightTap(ArrayView<float> weight, ConvTaps g, int k, int kCount, int n)
    {
        var s = g.Shape;
        int taps = s.KernelH * s.KernelW, kc = Math.Min(k, kCount - 1), nc = Math.Min(n, s.OutChannels - 1);
        int c = kc / taps, t = kc - c * taps, ky = t / s.KernelW, kx = t - ky * s.KernelW;
        float v = weight[g.WeightBase + nc * g.StrideN + c * g.StrideC + ky * g.StrideY + kx * g.StrideX];
        return k < kCount && n < s.OutChannels ? v : 0f;
    }

    /// <summary>Row stride of the backward weight pass's shared tiles: one word of padding so the
    /// pixel-fastest stores of a warp land in different banks.</summary>
    private const int TileRow = TileM + 1;

    /// <summary>
    /// SharedTiled backward weight: dWeight[o,k] = sum over pixels p = (b, y, x), in order, of
    /// dOutput[b,o,y,x] * im2col[p, k]. Rows are output channels (TileM), columns taps (TileN), the
    /// sum runs over pixels TileK at a time. Pixels past B*P, channels past O and taps past K load as zeros.
    /// </summary>
    public static void BackwardWeightTiled(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight)
    {
        var dTile = SharedMemory.Allocate<float>(TileK * TileRow); // dTile[pp*TileRow + oo] = dOutput[o0+oo, p0+pp]
        var aTile = SharedMemory.Allocate<float>(TileK * TileRow); // aTile[pp*TileRow + kk] = im2col[p0+pp, k0+kk]
        int plane = s.OutH * s.OutW, m = s.Batch * plane, o = s.OutChannels, kCount = s.InChannels * s.KernelH * s.KernelW;
        int kTiles = (kCount + TileN - 1) / TileN, tiles = (o + TileM - 1) / TileM * kTiles;
        for (int tile = Grid.IdxX; tile < tiles; tile += Grid.DimX)
        {
            int o0 = tile / kTiles * TileM, k0 = tile % kTiles * TileN;
            for (int round = 0; round < TileBlocks; round += Group.DimX)
            {
                int block = Math.Min(round + Group.IdxX, TileBlocks - 1), ty = block / (TileN / 4), tx = block % (TileN / 4);
                float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
                float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
                for (int p0 = 0; p0 < m; p0 += TileK)
                {
                    // Pixel fastest in both loads: neighbouring threads read neighbouring addresses.
                    for (int i = Group.IdxX; i < TileK * TileM; i += Group.DimX)
                    {
                        int oo = i / TileK, pp = i - oo * TileK, p = p0 + pp, channel = o0 + oo;
                        int pc = Math.Min(p, m - 1), b = pc / plane;
                        float v = dOutput[(b * o + Math.Min(channel, o - 1)) * plane + pc - b * plane];
                        dTile[pp * TileRow + oo] = p < m && channel < o ? v : 0f;
                    }
                    for (int i = Group.IdxX; i < TileK * TileN; i += Group.DimX)
                    {
                        int kk = i / TileK, pp = i - kk * TileK;
                        aTile[pp * TileRow + kk] = ImageTap(input, s, 0, 0, s.Height, s.Width, p0 + pp, m, k0 + kk, kCount);
                    }
                    Group.Barrier();
                    for (int pp = 0; pp < TileK; pp++)
                    {
                        int di = pp * TileRow + ty, ai = pp * TileRow + tx;
                        float e0 = dTile[di], e1 = dTile[di + 8], e2 = dTile[di + 16], e3 = dTile[di + 24];
                        float v0 = aTile[ai], v1 = aTile[ai + 8], v2 = aTile[ai + 16], v3 = aTile[ai + 24];
                        c00 += e0 * v0; c01 += e0 * v1; c02 += e0 * v2; c03 += e0 * v3;
                        c10 += e1 * v0; c11 += e1 * v1; c12 += e1 * v2; c13 += e1 * v3;
                        c20 += e2 * v0; c21 += e2 * v1; c22 += e2 * v2; c23 += e2 * v3;
                        c30 += e3 * v0; c31 += e3 * v1; c32 += e3 * v2; c33 += e3 * v3;
                    }
                    Group.Barrier();
                }
                if (round + Group.IdxX < TileBlocks && o0 + ty < o)
                {
                    // c{i}{j}: channel o0 + ty + 8i, tap k0 + tx + 8j.
                    StoreWeightRow(dWeight, o0 + ty, kCount, k0 + tx, 8, c00, c01, c02, c03);
                    if (o0 + ty + 8 < o) StoreWeightRow(dWeight, o0 + ty + 8, kCount, k0 + tx, 8, c10, c11, c12, c13);
                    if (o0 + ty + 16 < o) StoreWeightRow(dWeight, o0 + ty + 16, kCount, k0 + tx, 8, c20, c21, c22, c23);
                    if (o0 + ty + 24 < o) StoreWeightRow(dWeight, o0 + ty + 24, kCount, k0 + tx, 8, c30, c31, c32, c33);
                }
            }
        }
    }

    /// <summary>dWeight[channel, k + step*j] = v_j for the taps that exist.</summary>
    private static void StoreWeightRow(ArrayView<float> dWeight, int channel, int kCount, int k, int step, float v0, float v1, float v2, float v3)
    {
        int at = channel * kCount;
        if (k < kCount) dWeight[at + k] = v0;
        if (k + step < kCount) dWeight[at + k + step] = v1;
        if (k + 2 * step < kCount) dWeight[at + k + 2 * step] = v2;
        if (k + 3 * step < kCount) dWeight[at + k + 3 * step] = v3;
    }

    /// <summary>Offset of input[b, 0, y, x] for flat output pixel index <paramref name="p"/> = b*plane + y*ow + x.</summary>
    private static int InputCorner(int p, int plane, int ow, int width, int inImage)
    {
        int b = p / plane, r = p - b * plane, y = r / ow;
        return b * inImage + y * width + (r - y * ow);
    }

    /// <summary>Stores output pixel <paramref name="p"/> of channels n0 + lanes*j (those that exist), after the <see cref="Epilogue"/>.</summary>
    private static void StorePixel(ArrayView<float> output, int epilogue, ArrayView<float> bias, int n0, int lanes, int n, int p, int m, int plane,
        float v0, float v1, float v2, float v3)
    {
        if (p >= m) return;
        int b = p / plane, at = b * n * plane + (p - b * plane);
        for (int j = 0; j < 4; j++)
        {
            int channel = n0 + j * lanes;
            if (channel >= n) return;
            float v = j == 0 ? v0 : j == 1 ? v1 : j == 2 ? v2 : v3;
            if ((epilogue & Epilogue.Bias) != 0) v += bias[channel];
            // Math.Max(v, 0f) exactly as ReluKernels.Forward computes it, so fused and unfused agree bit for bit.
            if ((epilogue & Epilogue.Relu) != 0) v = Math.Max(v, 0f);
            output[at + channel * plane] = v;
        }
    }

    /// <summary>
    /// Planes of h x w zero-padded by padY rows and padX columns on every side:
    /// padded[q, py, px] = source[q, py-padY, px-padX] inside, 0 outside. Writes every element,
    /// so the scratch buffer needs no clearing. (The backward input pass pads dOutput by KH-1, KW-1.)
    /// </summary>
    public static void Pad(Index1D thread, int threads, int planes, int h, int w, int padY, int padX, ArrayView<float> source, ArrayView<float> padded)
    {
        // One thread per padded row: one division per row instead of two per element (the divisor
        // is not a constant, so each is a real division; per element they were most of the pass).
        int ph = h + 2 * padY, pw = w + 2 * padX, rows = planes * ph;
        for (int row = thread; row < rows; row += threads)
        {
            int q = row / ph, y = row - q * ph - padY;
            bool inside = y >= 0 && y < h;
            int from = (q * h + Math.Min(Math.Max(y, 0), h - 1)) * w, to = row * pw;
            for (int px = 0; px < pw; px++)
            {
                int x = px - padX;
                // Load from a clamped position, then select: a load under the condition is a branch
                // PoCL cannot vectorise across work-items (elementwise kernels ran 4-10x slower so).
                float v = source[from + Math.Min(Math.Max(x, 0), w - 1)];
                padded[to + px] = inside && x >= 0 && x < w ? v : 0f;
            }
        }
    }

    /// <summary>
    /// dWeight[o,k] = sum over b, y, x of dOutput[b,o,y,x] * input[b, c, y+ky, x+kx] where tap
    /// k = (c, ky, kx). A tile is 4 output channels by 4 * lanes taps; lane l owns taps l + lanes*j.
    /// The 4 dOutput values of a step are the same for all lanes of a group. With
    /// <paramref name="withBias"/>, the first tap tile of each channel quad also sums dOutput into
    /// dBias[o] (pixels in the same order as <see cref="BackwardBias"/>, so the same sums), which
    /// saves a pass over dOutput by a handful of threads.
    /// Tried on PoCL and dropped (conv2 with bias: 12.2 ms as is): 8 channels per lane, 12.2-17.3 ms;
    /// the x loop unrolled by 4, 14.2-14.8 ms.
    /// </summary>
    public static void BackwardWeight(ConvShape s, int withBias, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight, ArrayView<float> dBias)
    {
        int lanes = Group.DimX, lane = Group.IdxX;
        int oh = s.OutH, ow = s.OutW, plane = oh * ow, inPlane = s.Height * s.Width, inImage = s.InChannels * inPlane;
        int taps = s.KernelH * s.KernelW, kCount = s.InChannels * taps, o = s.OutChannels;
        int kTile = 4 * lanes, kTiles = (kCount + kTile - 1) / kTile, oTiles = (o + 3) / 4;
        for (int t = Grid.IdxX; t < kTiles * oTiles; t += Grid.DimX)
        {
            int o0 = (t % oTiles) * 4, k0 = (t / oTiles) * kTile + lane;
            bool bias = withBias != 0 && t < oTiles; // the first tap tile (the same for the whole group)
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
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
                        if (bias) { s0 += e0; s1 += e1; s2 += e2; s3 += e3; }
                    }
                }
            // Every lane has the same bias sums; lane 0 stores them.
            if (bias && lane == 0)
            {
                dBias[o0] = s0;
                if (o0 + 1 < o) dBias[o0 + 1] = s1;
                if (o0 + 2 < o) dBias[o0 + 2] = s2;
                if (o0 + 3 < o) dBias[o0 + 3] = s3;
            }
            StoreWeightColumn(dWeight, o0, o, k0, kCount, c00, c10, c20, c30);
            StoreWeightColumn(dWeight, o0, o, k0 + lanes, kCount, c01, c11, c21, c31);
            StoreWeightColumn(dWeight, o0, o, k0 + 2 * lanes, kCount, c02, c12, c22, c32);
            StoreWeightColumn(dWeight, o0, o, k0 + 3 * lanes, kCount, c03, c13, c23, c33);
        }
    }

    /// <summary>
    /// The same sums as <see cref="BackwardWeight"/>, for layers with few taps and more output
    /// channels (conv1: 9 taps, 32 channels), where lanes over taps leave most of a 4 * lanes tap tile
    /// empty (9 of 32 slots). Here a tile is 4 taps by 4 * lanes output channels; lane l owns channels
    /// l + lanes*j, and the 4 input values of a step are the same for all lanes of a group.
    /// <see cref="LaunchPolicy.WeightLanesOverChannels"/> chooses between the two. With
    /// <paramref name="withBias"/>, the first tap tile also sums dBias, as there.
    /// </summary>
    public static void BackwardWeightByChannel(ConvShape s, int withBias, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight, ArrayView<float> dBias)
    {
        int lanes = Group.DimX, lane = Group.IdxX;
        int oh = s.OutH, ow = s.OutW, plane = oh * ow, inPlane = s.Height * s.Width, inImage = s.InChannels * inPlane;
        int taps = s.KernelH * s.KernelW, kCount = s.InChannels * taps, o = s.OutChannels;
        int oTile = 4 * lanes, oTiles = (o + oTile - 1) / oTile, kTiles = (kCount + 3) / 4;
        for (int t = Grid.IdxX; t < kTiles * oTiles; t += Grid.DimX)
        {
            int k0 = (t % kTiles) * 4, o0 = (t / kTiles) * oTile + lane;
            bool bias = withBias != 0 && k0 == 0; // the first tap tile (the same for the whole group)
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            int a0 = TapOffset(k0, taps, s.KernelW, s.Width, inPlane);
            int a1 = TapOffset(Math.Min(k0 + 1, kCount - 1), taps, s.KernelW, s.Width, inPlane);
            int a2 = TapOffset(Math.Min(k0 + 2, kCount - 1), taps, s.KernelW, s.Width, inPlane);
            int a3 = TapOffset(Math.Min(k0 + 3, kCount - 1), taps, s.KernelW, s.Width, inPlane);
            int d0 = Math.Min(o0, o - 1) * plane, d1 = Math.Min(o0 + lanes, o - 1) * plane;
            int d2 = Math.Min(o0 + 2 * lanes, o - 1) * plane, d3 = Math.Min(o0 + 3 * lanes, o - 1) * plane;
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
                        if (bias) { s0 += e0; s1 += e1; s2 += e2; s3 += e3; }
                    }
                }
            if (bias)
            {
                if (o0 < o) dBias[o0] = s0;
                if (o0 + lanes < o) dBias[o0 + lanes] = s1;
                if (o0 + 2 * lanes < o) dBias[o0 + 2 * lanes] = s2;
                if (o0 + 3 * lanes < o) dBias[o0 + 3 * lanes] = s3;
            }
            // c{j}{i}: channel o0 + lanes*j, tap k0 + i.
            if (o0 < o) StoreWeightRow(dWeight, o0, kCount, k0, 1, c00, c01, c02, c03);
            if (o0 + lanes < o) StoreWeightRow(dWeight, o0 + lanes, kCount, k0, 1, c10, c11, c12, c13);
            if (o0 + 2 * lanes < o) StoreWeightRow(dWeight, o0 + 2 * lanes, kCount, k0, 1, c20, c21, c22, c23);
            if (o0 + 3 * lanes < o) StoreWeightRow(dWeight, o0 + 3 * lanes, kCount, k0, 1, c30, c31, c32, c33);
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
/// Owns scratch buffers, grown on demand: the packed weight, the padded dOutput of the register
/// variant's backward input pass, and the CpuPacked variant's pixel and dOutput panels.
/// </summary>
public sealed class Conv2d
{
    private readonly Accelerator accelerator;
    private readonly LaunchPolicy policy;
    private bool Packed => policy.Gemm == GemmVariant.CpuPacked;
    private bool Tiled => policy.Gemm == GemmVariant.SharedTiled;
    private bool Register => policy.Gemm == GemmVariant.Register;
    // Register only: backward weight with lanes over output channels (see LaunchPolicy.WeightLanesOverChannels); null otherwise.
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>? backwardWeightByChannel, backwardWeightRegister;
    private readonly Action<Index1D, int, int, int, int, int, int, ArrayView<float>, ArrayView<float>> pad;
    // SharedTiled kernels (explicitly grouped, barriers inside); null for the other variants.
    private readonly Action<KernelConfig, ConvTaps, int, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>? forwardTiled;
    private readonly Action<KernelConfig, ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>? backwardWeightTiled;
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forwardCpu;
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, int, int, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardWeight;
    private readonly Action<Index1D, int, ConvTaps, int, ArrayView<float>, ArrayView<float>> packWeight;
    private readonly Action<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>> backwardBias, packOutputs;
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, int, int, ArrayView<float>, ArrayView<float>> packPixels;
    private readonly ScratchBuffer packed, padded, panels, dPanels;

    public Conv2d(Accelerator accelerator, LaunchPolicy policy)
    {
        this.accelerator = accelerator;
        this.policy = policy;
        forwardCpu = accelerator.LoadKernel<ConvShape, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.ForwardCpu);
        forward = accelerator.LoadKernel<ConvShape, int, int, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.Forward);
        packPixels = accelerator.LoadKernel<ConvShape, int, int, ArrayView<float>, ArrayView<float>>(Conv2dKernels.PackPixels);
        backwardWeight = accelerator.LoadKernel<ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.BackwardWeightCpu);
        packWeight = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ConvTaps, int, ArrayView<float>, ArrayView<float>>(
            Packed ? Conv2dKernels.PackWeightQuads : Conv2dKernels.PackWeight);
        packOutputs = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>>(Conv2dKernels.PackOutputs);
        backwardBias = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>>(Conv2dKernels.BackwardBias);
        if (Register)
        {
            backwardWeightByChannel = accelerator.LoadKernel<ConvShape, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.BackwardWeightByChannel);
            backwardWeightRegister = accelerator.LoadKernel<ConvShape, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.BackwardWeight);
        }
        pad = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, int, int, int, int, int, ArrayView<float>, ArrayView<float>>(Conv2dKernels.Pad);
        if (Tiled)
        {
            forwardTiled = accelerator.LoadStreamKernel<ConvTaps, int, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.ForwardTiled);
            backwardWeightTiled = accelerator.LoadStreamKernel<ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.BackwardWeightTiled);
        }
        packed = new ScratchBuffer(accelerator);
        panels = new ScratchBuffer(accelerator);
        dPanels = new ScratchBuffer(accelerator);
        padded = new ScratchBuffer(accelerator);
    }

    /// <summary>output = conv(input, weight) + bias.</summary>
    public void Forward(ConvShape s, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output) =>
        RunTaps(ConvTaps.Forward(s), Epilogue.Bias, input, weight, bias, output);

    /// <summary>output = ReLU(conv(input, weight) + bias) in one pass: <see cref="Forward"/> then <see cref="Relu.Forward"/>, fused.</summary>
    public void ForwardRelu(ConvShape s, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output) =>
        RunTaps(ConvTaps.Forward(s), Epilogue.BiasRelu, input, weight, bias, output);

    /// <summary>
    /// Runs <paramref name="g"/> as a forward convolution (the GEMM core shared with <see cref="Dense"/>),
    /// applying <paramref name="epilogue"/> (<see cref="Epilogue"/> flags) to each output.
    /// With <paramref name="pad"/>, <paramref name="input"/> is the unpadded tensor and <c>g.Shape</c> the padded one.
    /// </summary>
    internal void RunTaps(ConvTaps g, int epilogue, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output,
        int padY = 0, int padX = 0)
    {
        var s = g.Shape;
        if (forwardTiled is not null)
        {
            // Reads the weight through g's strides and the input with its padding as zeros: no pack or pad pass.
            long tiles = ((long)s.Batch * s.OutH * s.OutW + Conv2dKernels.TileM - 1) / Conv2dKernels.TileM
                * ((s.OutChannels + Conv2dKernels.TileN - 1) / Conv2dKernels.TileN);
            forwardTiled(policy.TiledGroups(tiles), g, padY, padX, epilogue, input, weight, bias, output);
            return;
        }
        int group = 4 * policy.Lanes, nPad = (s.OutChannels + group - 1) / group * group;
        int kCount = s.InChannels * s.KernelH * s.KernelW;
        // The CpuPacked weight is in 4 x 4 quads, so its taps are padded to a multiple of 4 too.
        int packedSize = (Packed ? Conv2dKernels.PadTo4(kCount) : kCount) * nPad;
        var w = packed.Get(packedSize);
        int t = policy.Threads(packedSize);
        packWeight(t, t, g, nPad, weight, w);
        long pixelTiles = ((long)s.Batch * s.OutH * s.OutW + 3) / 4;
        if (Packed)
        {
            var a = panels.Get(pixelTiles * 4 * Conv2dKernels.PadTo4(kCount));
            packPixels(accelerator.DefaultStream, policy.RegisterGroups(pixelTiles), s, padY, padX, input, a);
            forwardCpu(accelerator.DefaultStream, policy.RegisterGroups(pixelTiles * (nPad / 4)), s, nPad, epilogue, a, w, bias, output);
            return;
        }
        if (padY != 0 || padX != 0)
        {
            // The register variant reads the input directly, so it needs the padded copy.
            var source = input;
            input = padded.Get(s.InputSize);
            int tp = policy.Threads((long)s.Batch * s.InChannels * s.Height);
            pad(tp, tp, s.Batch * s.InChannels, s.Height - 2 * padY, s.Width - 2 * padX, padY, padX, source, input);
        }
        long registerTiles = ((long)s.Batch * s.OutH * s.OutW + Conv2dKernels.RegisterPixels - 1) / Conv2dKernels.RegisterPixels;
        forward(accelerator.DefaultStream, policy.RegisterGroups(registerTiles), s, nPad, epilogue, padY, padX, input, w, bias, output);
    }

    public void BackwardInput(ConvShape s, ArrayView<float> dOutput, ArrayView<float> weight, ArrayView<float> dInput)
    {
        // No bias: the bias view is never read without Epilogue.Bias.
        RunTaps(ConvTaps.BackwardInput(s), Epilogue.None, dOutput, weight, weight, dInput, s.KernelH - 1, s.KernelW - 1);
    }

    public void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight) =>
        BackwardWeight(s, dOutput, input, dWeight, null);

    /// <summary>
    /// <see cref="BackwardWeight"/> and <see cref="BackwardBias"/> together: the register variant sums
    /// the bias inside the weight pass (same sums); the others run the two passes.
    /// </summary>
    public void BackwardWeightAndBias(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight, ArrayView<float> dBias)
    {
        BackwardWeight(s, dOutput, input, dWeight, dBias);
        if (!Register) BackwardBias(s, dOutput, dBias);
    }

    private void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight, ArrayView<float>? dBias)
    {
        int kCount = s.InChannels * s.KernelH * s.KernelW;
        if (backwardWeightTiled is not null)
        {
            long outputTiles = (s.OutChannels + Conv2dKernels.TileM - 1) / Conv2dKernels.TileM * (long)((kCount + Conv2dKernels.TileN - 1) / Conv2dKernels.TileN);
            backwardWeightTiled(policy.TiledGroups(outputTiles), s, dOutput, input, dWeight);
            return;
        }
        if (Packed)
        {
            // The input's im2col panels (as the forward pass builds them) and dOutput in 4 x 4 tiles.
            long pixelTiles = ((long)s.Batch * s.OutH * s.OutW + 3) / 4;
            var a = panels.Get(pixelTiles * 4 * Conv2dKernels.PadTo4(kCount));
            packPixels(accelerator.DefaultStream, policy.RegisterGroups(pixelTiles), s, 0, 0, input, a);
            long dSize = pixelTiles * 4 * Conv2dKernels.PadTo4(s.OutChannels);
            var d = dPanels.Get(dSize);
            int td = policy.Threads(dSize);
            packOutputs(td, td, s, dOutput, d);
            long quads = (long)Conv2dKernels.PadTo4(kCount) / 4 * (Conv2dKernels.PadTo4(s.OutChannels) / 4);
            backwardWeight(accelerator.DefaultStream, policy.RegisterGroups(quads), s, d, a, dWeight);
            return;
        }
        // Without a bias to sum, the kernel gets dWeight in its place and never writes it.
        int withBias = dBias is null ? 0 : 1;
        var biasView = dBias ?? dWeight;
        if (policy.WeightLanesOverChannels(kCount, s.OutChannels))
        {
            long channelTiles = (kCount + 3) / 4 * ((s.OutChannels + 4L * policy.Lanes - 1) / (4L * policy.Lanes));
            backwardWeightByChannel!(accelerator.DefaultStream, policy.RegisterGroups(channelTiles), s, withBias, dOutput, input, dWeight, biasView);
            return;
        }
        long tiles = (kCount + 4L * policy.Lanes - 1) / (4L * policy.Lanes) * ((s.OutChannels + 3) / 4);
        backwardWeightRegister!(accelerator.DefaultStream, policy.RegisterGroups(tiles), s, withBias, dOutput, input, dWeight, biasView);
    }

    public void BackwardBias(ConvShape s, ArrayView<float> dOutput, ArrayView<float> dBias)
    {
        int t = policy.Threads(s.OutChannels);
        backwardBias(t, t, s, dOutput, dBias);
    }
}
