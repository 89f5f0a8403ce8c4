using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// GemmVariant.Register, PoCL's: no shared memory; a work-group's lanes own interleaved output
// channels of a register block (lane l owns channels l, l + lanes, ...), so neighbouring lanes read
// neighbouring packed weights, and the pixels of a block are the same for all lanes (broadcasts).
// Shapes and layouts as in Conv2d.cs.

/// <summary>The register variant's kernels.</summary>
public static class RegisterConvKernels
{
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
                ConvKernels.StorePixel(output, epilogue, bias, n0, lanes, n, m0, m, plane, c00, c10, c20, c30);
                ConvKernels.StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 1, m, plane, c01, c11, c21, c31);
                ConvKernels.StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 2, m, plane, c02, c12, c22, c32);
                ConvKernels.StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 3, m, plane, c03, c13, c23, c33);
                ConvKernels.StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 4, m, plane, c04, c14, c24, c34);
                ConvKernels.StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 5, m, plane, c05, c15, c25, c35);
                ConvKernels.StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 6, m, plane, c06, c16, c26, c36);
                ConvKernels.StorePixel(output, epilogue, bias, n0, lanes, n, m0 + 7, m, plane, c07, c17, c27, c37);
            }
        }
    }

    /// <summary>Offset of input[b, 0, y, x] for flat output pixel index <paramref name="p"/> = b*plane + y*ow + x.</summary>
    private static int InputCorner(int p, int plane, int ow, int width, int inImage)
    {
        int b = p / plane, r = p - b * plane, y = r / ow;
        return b * inImage + y * width + (r - y * ow);
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
    /// dBias[o] (pixels in the same order as <see cref="ConvKernels.BackwardBias"/>, so the same sums), which
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
            int a0 = ConvKernels.TapOffset(s, Math.Min(k0, kCount - 1));
            int a1 = ConvKernels.TapOffset(s, Math.Min(k0 + lanes, kCount - 1));
            int a2 = ConvKernels.TapOffset(s, Math.Min(k0 + 2 * lanes, kCount - 1));
            int a3 = ConvKernels.TapOffset(s, Math.Min(k0 + 3 * lanes, kCount - 1));
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
            ConvKernels.StoreWeightColumn(dWeight, o0, o, k0, kCount, c00, c10, c20, c30);
            ConvKernels.StoreWeightColumn(dWeight, o0, o, k0 + lanes, kCount, c01, c11, c21, c31);
            ConvKernels.StoreWeightColumn(dWeight, o0, o, k0 + 2 * lanes, kCount, c02, c12, c22, c32);
            ConvKernels.StoreWeightColumn(dWeight, o0, o, k0 + 3 * lanes, kCount, c03, c13, c23, c33);
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
            int a0 = ConvKernels.TapOffset(s, k0);
            int a1 = ConvKernels.TapOffset(s, Math.Min(k0 + 1, kCount - 1));
            int a2 = ConvKernels.TapOffset(s, Math.Min(k0 + 2, kCount - 1));
            int a3 = ConvKernels.TapOffset(s, Math.Min(k0 + 3, kCount - 1));
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
            if (o0 < o) ConvKernels.StoreWeightRow(dWeight, o0, kCount, k0, 1, c00, c01, c02, c03);
            if (o0 + lanes < o) ConvKernels.StoreWeightRow(dWeight, o0 + lanes, kCount, k0, 1, c10, c11, c12, c13);
            if (o0 + 2 * lanes < o) ConvKernels.StoreWeightRow(dWeight, o0 + 2 * lanes, kCount, k0, 1, c20, c21, c22, c23);
            if (o0 + 3 * lanes < o) ConvKernels.StoreWeightRow(dWeight, o0 + 3 * lanes, kCount, k0, 1, c30, c31, c32, c33);
        }
    }
}

/// <summary>
/// Launches the register variant. Scratch buffers, grown on demand: the packed weight and the
/// padded dOutput of the backward input pass.
/// </summary>
public sealed class RegisterConv2d : Conv2d
{
    private readonly Action<Index1D, int, ConvTaps, int, ArrayView<float>, ArrayView<float>> packWeight;
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, int, int, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<Index1D, int, int, int, int, int, int, ArrayView<float>, ArrayView<float>> pad;
    // Backward weight with lanes over taps, or over output channels (see LaunchPolicy.WeightLanesOverChannels).
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardWeight, backwardWeightByChannel;
    private readonly ScratchBuffer packed, padded;

    public RegisterConv2d(Accelerator accelerator, LaunchPolicy policy) : base(accelerator, policy)
    {
        packWeight = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvTaps, int, ArrayView<float>, ArrayView<float>>(ConvKernels.PackWeight, policy.GroupSize);
        forward = accelerator.LoadKernel<ConvShape, int, int, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(RegisterConvKernels.Forward);
        pad = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, int, int, int, int, ArrayView<float>, ArrayView<float>>(RegisterConvKernels.Pad, policy.GroupSize);
        backwardWeight = accelerator.LoadKernel<ConvShape, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(RegisterConvKernels.BackwardWeight);
        backwardWeightByChannel = accelerator.LoadKernel<ConvShape, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(RegisterConvKernels.BackwardWeightByChannel);
        packed = new ScratchBuffer(accelerator);
        padded = new ScratchBuffer(accelerator);
    }

    internal override void RunTaps(ConvTaps g, int epilogue, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output,
        int padY = 0, int padX = 0)
    {
        var s = g.Shape;
        int group = 4 * Policy.Lanes, nPad = (s.OutChannels + group - 1) / group * group;
        int packedSize = s.InChannels * s.KernelH * s.KernelW * nPad;
        var w = packed.Get(packedSize);
        int t = Policy.Threads((long)s.InChannels * s.KernelH * s.KernelW);
        packWeight(t, t, g, nPad, weight, w);
        if (padY != 0 || padX != 0)
        {
            // The register variant reads the input directly, so it needs the padded copy.
            var source = input;
            input = padded.Get(s.InputSize);
            int tp = Policy.Threads((long)s.Batch * s.InChannels * s.Height);
            pad(tp, tp, s.Batch * s.InChannels, s.Height - 2 * padY, s.Width - 2 * padX, padY, padX, source, input);
        }
        long registerTiles = ((long)s.Batch * s.OutH * s.OutW + RegisterConvKernels.RegisterPixels - 1) / RegisterConvKernels.RegisterPixels;
        forward(Accelerator.DefaultStream, Policy.RegisterGroups(registerTiles), s, nPad, epilogue, padY, padX, input, w, bias, output);
    }

    public override void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight) =>
        BackwardWeight(s, dOutput, input, dWeight, null);

    /// <summary>One pass: the bias is summed inside the weight pass (the same sums as <see cref="Conv2d.BackwardBias"/>).</summary>
    public override void BackwardWeightAndBias(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight, ArrayView<float> dBias) =>
        BackwardWeight(s, dOutput, input, dWeight, dBias);

    private void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight, ArrayView<float>? dBias)
    {
        int kCount = s.InChannels * s.KernelH * s.KernelW;
        // Without a bias to sum, the kernel gets dWeight in its place and never writes it.
        int withBias = dBias is null ? 0 : 1;
        var biasView = dBias ?? dWeight;
        if (Policy.WeightLanesOverChannels(kCount, s.OutChannels))
        {
            long channelTiles = (kCount + 3) / 4 * ((s.OutChannels + 4L * Policy.Lanes - 1) / (4L * Policy.Lanes));
            backwardWeightByChannel(Accelerator.DefaultStream, Policy.RegisterGroups(channelTiles), s, withBias, dOutput, input, dWeight, biasView);
            return;
        }
        long tiles = (kCount + 4L * Policy.Lanes - 1) / (4L * Policy.Lanes) * ((s.OutChannels + 3) / 4);
        backwardWeight(Accelerator.DefaultStream, Policy.RegisterGroups(tiles), s, withBias, dOutput, input, dWeight, biasView);
    }
}
