using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// Direct kernels for convolutions with few taps (K = C*KH*KW <= 16: conv1, one input channel and
// 3x3 taps), which the Panel variant uses in place of its packed GEMMs there (LaunchPolicy.Direct).
// With K = 9 the packed GEMMs do little arithmetic per byte they pack and store: the forward pass
// wrote a 12-tap panel per 4 pixels and decoded every pixel's index again to store it; the weight
// gradient padded the 9 taps to 16 and ran 8 work-items in one group. Here:
//   forward: a work-item owns 4 adjacent pixels of one output row x 16 channels; it reads the 4
//     input values of each tap straight from the image (broadcast) and 16 contiguous weights of the
//     packed weight [K, N padded to 16] (ConvKernels.PackWeight), and stores 4 contiguous pixels per channel;
//   backward weight: a work-item owns 4 taps x 16 channels; per output pixel it reads the 4 input
//     values of its taps straight from the image and 16 contiguous values of dOutput laid out pixel
//     by pixel (PackPixelRows), 64 multiply-adds; the first tap quad also sums the bias gradient.
// The sums are the Panel variant's, in the same order (taps k = 0, 1, ...; pixels b, y, x), so the
// results are the same bit for bit. Shapes and layouts as in Conv2d.cs.

/// <summary>The direct kernels for convolutions with few taps.</summary>
public static class DirectConvKernels
{
    /// <summary>Channels per work-item (a contiguous row of the packed weight or of dOutput's pixel rows).</summary>
    public const int Width = PanelConvKernels.Width;

    /// <summary>
    /// output[b,n,y,x0+i] = epilogue(sum over taps k of input[b, tap k of pixel (y, x0+i)] * packed[k, n])
    /// for i = 0..3 and 16 channels n; <paramref name="nPad"/> is the packed weight's row length
    /// (N rounded up to 16). Columns past OW read the row's last pixel and are not stored.
    /// </summary>
    public static void Forward(Index1D thread, int threads, ConvShape s, int nPad, int epilogue,
        ArrayView<float> input, ArrayView<float> packed, ArrayView<float> bias, ArrayView<float> output)
    {
        int oh = s.OutH, ow = s.OutW, plane = oh * ow, n = s.OutChannels, inPlane = s.Height * s.Width;
        int xTiles = (ow + 3) / 4, nTiles = nPad / Width, items = s.Batch * oh * xTiles * nTiles;
        // Work item = (image row, 4-pixel tile, channel block), channel block fastest: neighbours share pixels.
        for (int t = thread; t < items; t += threads)
        {
            int q = t / nTiles, n0 = (t - q * nTiles) * Width, row = q / xTiles, x0 = 4 * (q - row * xTiles);
            int b = row / oh, y = row - b * oh;
            int corner = b * s.InChannels * inPlane + y * s.Width;
            int x1 = Math.Min(x0 + 1, ow - 1), x2 = Math.Min(x0 + 2, ow - 1), x3 = Math.Min(x0 + 3, ow - 1);
            // c{i}_{j}: pixel x0 + i, channel n0 + j.
            float c0_0 = 0, c0_1 = 0, c0_2 = 0, c0_3 = 0, c0_4 = 0, c0_5 = 0, c0_6 = 0, c0_7 = 0, c0_8 = 0, c0_9 = 0, c0_10 = 0, c0_11 = 0, c0_12 = 0, c0_13 = 0, c0_14 = 0, c0_15 = 0;
            float c1_0 = 0, c1_1 = 0, c1_2 = 0, c1_3 = 0, c1_4 = 0, c1_5 = 0, c1_6 = 0, c1_7 = 0, c1_8 = 0, c1_9 = 0, c1_10 = 0, c1_11 = 0, c1_12 = 0, c1_13 = 0, c1_14 = 0, c1_15 = 0;
            float c2_0 = 0, c2_1 = 0, c2_2 = 0, c2_3 = 0, c2_4 = 0, c2_5 = 0, c2_6 = 0, c2_7 = 0, c2_8 = 0, c2_9 = 0, c2_10 = 0, c2_11 = 0, c2_12 = 0, c2_13 = 0, c2_14 = 0, c2_15 = 0;
            float c3_0 = 0, c3_1 = 0, c3_2 = 0, c3_3 = 0, c3_4 = 0, c3_5 = 0, c3_6 = 0, c3_7 = 0, c3_8 = 0, c3_9 = 0, c3_10 = 0, c3_11 = 0, c3_12 = 0, c3_13 = 0, c3_14 = 0, c3_15 = 0;
            int bi = n0;
            for (int c = 0; c < s.InChannels; c++)
                for (int ky = 0; ky < s.KernelH; ky++)
                    for (int kx = 0; kx < s.KernelW; kx++, bi += nPad)
                    {
                        int ai = corner + c * inPlane + ky * s.Width + kx;
                        float a0 = input[ai + x0], a1 = input[ai + x1], a2 = input[ai + x2], a3 = input[ai + x3];
                        float b0 = packed[bi], b1 = packed[bi + 1], b2 = packed[bi + 2], b3 = packed[bi + 3];
                        float b4 = packed[bi + 4], b5 = packed[bi + 5], b6 = packed[bi + 6], b7 = packed[bi + 7];
                        float b8 = packed[bi + 8], b9 = packed[bi + 9], b10 = packed[bi + 10], b11 = packed[bi + 11];
                        float b12 = packed[bi + 12], b13 = packed[bi + 13], b14 = packed[bi + 14], b15 = packed[bi + 15];
                        c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3; c0_4 += a0 * b4; c0_5 += a0 * b5; c0_6 += a0 * b6; c0_7 += a0 * b7;
                        c0_8 += a0 * b8; c0_9 += a0 * b9; c0_10 += a0 * b10; c0_11 += a0 * b11; c0_12 += a0 * b12; c0_13 += a0 * b13; c0_14 += a0 * b14; c0_15 += a0 * b15;
                        c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3; c1_4 += a1 * b4; c1_5 += a1 * b5; c1_6 += a1 * b6; c1_7 += a1 * b7;
                        c1_8 += a1 * b8; c1_9 += a1 * b9; c1_10 += a1 * b10; c1_11 += a1 * b11; c1_12 += a1 * b12; c1_13 += a1 * b13; c1_14 += a1 * b14; c1_15 += a1 * b15;
                        c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3; c2_4 += a2 * b4; c2_5 += a2 * b5; c2_6 += a2 * b6; c2_7 += a2 * b7;
                        c2_8 += a2 * b8; c2_9 += a2 * b9; c2_10 += a2 * b10; c2_11 += a2 * b11; c2_12 += a2 * b12; c2_13 += a2 * b13; c2_14 += a2 * b14; c2_15 += a2 * b15;
                        c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3; c3_4 += a3 * b4; c3_5 += a3 * b5; c3_6 += a3 * b6; c3_7 += a3 * b7;
                        c3_8 += a3 * b8; c3_9 += a3 * b9; c3_10 += a3 * b10; c3_11 += a3 * b11; c3_12 += a3 * b12; c3_13 += a3 * b13; c3_14 += a3 * b14; c3_15 += a3 * b15;
                    }
            int at = (b * n + n0) * plane + y * ow + x0, left = ow - x0;
            StoreQuad(output, epilogue, bias, n0 + 0, n, at + 0 * plane, left, c0_0, c1_0, c2_0, c3_0);
            StoreQuad(output, epilogue, bias, n0 + 1, n, at + 1 * plane, left, c0_1, c1_1, c2_1, c3_1);
            StoreQuad(output, epilogue, bias, n0 + 2, n, at + 2 * plane, left, c0_2, c1_2, c2_2, c3_2);
            StoreQuad(output, epilogue, bias, n0 + 3, n, at + 3 * plane, left, c0_3, c1_3, c2_3, c3_3);
            StoreQuad(output, epilogue, bias, n0 + 4, n, at + 4 * plane, left, c0_4, c1_4, c2_4, c3_4);
            StoreQuad(output, epilogue, bias, n0 + 5, n, at + 5 * plane, left, c0_5, c1_5, c2_5, c3_5);
            StoreQuad(output, epilogue, bias, n0 + 6, n, at + 6 * plane, left, c0_6, c1_6, c2_6, c3_6);
            StoreQuad(output, epilogue, bias, n0 + 7, n, at + 7 * plane, left, c0_7, c1_7, c2_7, c3_7);
            StoreQuad(output, epilogue, bias, n0 + 8, n, at + 8 * plane, left, c0_8, c1_8, c2_8, c3_8);
            StoreQuad(output, epilogue, bias, n0 + 9, n, at + 9 * plane, left, c0_9, c1_9, c2_9, c3_9);
            StoreQuad(output, epilogue, bias, n0 + 10, n, at + 10 * plane, left, c0_10, c1_10, c2_10, c3_10);
            StoreQuad(output, epilogue, bias, n0 + 11, n, at + 11 * plane, left, c0_11, c1_11, c2_11, c3_11);
            StoreQuad(output, epilogue, bias, n0 + 12, n, at + 12 * plane, left, c0_12, c1_12, c2_12, c3_12);
            StoreQuad(output, epilogue, bias, n0 + 13, n, at + 13 * plane, left, c0_13, c1_13, c2_13, c3_13);
            StoreQuad(output, epilogue, bias, n0 + 14, n, at + 14 * plane, left, c0_14, c1_14, c2_14, c3_14);
            StoreQuad(output, epilogue, bias, n0 + 15, n, at + 15 * plane, left, c0_15, c1_15, c2_15, c3_15);
        }
    }

    /// <summary>output[at + i] = epilogue(v_i) for the first <paramref name="left"/> of 4 pixels, if the channel exists.</summary>
    private static void StoreQuad(ArrayView<float> output, int epilogue, ArrayView<float> bias, int channel, int n, int at, int left,
        float v0, float v1, float v2, float v3)
    {
        if (channel >= n) return;
        float add = (epilogue & Epilogue.Bias) != 0 ? bias[channel] : 0f;
        for (int i = 0; i < 4 && i < left; i++)
        {
            float v = i == 0 ? v0 : i == 1 ? v1 : i == 2 ? v2 : v3;
            // The same operations as ConvKernels.StorePixel, so the results are the same bits.
            if ((epilogue & Epilogue.Bias) != 0) v += add;
            if ((epilogue & Epilogue.Relu) != 0) v = Math.Max(v, 0f);
            output[at + i] = v;
        }
    }

    /// <summary>dRows[p * nPad + o] = dOutput[b, o, pixel p] over the B*P pixels (dOutput transposed pixel by pixel); 0 for o &gt;= O.</summary>
    public static void PackPixelRows(Index1D thread, int threads, ConvShape s, int nPad, ArrayView<float> dOutput, ArrayView<float> dRows)
    {
        int plane = s.OutH * s.OutW, m = s.Batch * plane, o = s.OutChannels;
        for (int p = thread; p < m; p += threads)
        {
            int b = p / plane, from = b * o * plane + (p - b * plane), at = p * nPad;
            for (int j = 0; j < nPad; j++)
            {
                // Clamped load, then select (a load under the condition is a branch PoCL cannot vectorise).
                float v = dOutput[from + Math.Min(j, o - 1) * plane];
                dRows[at + j] = j < o ? v : 0f;
            }
        }
    }

    /// <summary>
    /// dWeight[n, k] = sum over pixels p = (b, y, x), in order, of input[b, tap k of p] * dOutput[b, n, p]
    /// for 4 taps k0..k0+3 and 16 channels; taps past K read tap K-1 and are not stored. With
    /// <paramref name="withBias"/> the first tap quad also sums dBias[n] over the pixels in the same order.
    /// Launched with one work-item per group, so the few items spread over every core.
    /// </summary>
    public static void BackwardWeight(ConvShape s, int nPad, int withBias,
        ArrayView<float> input, ArrayView<float> dRows, ArrayView<float> dWeight, ArrayView<float> dBias)
    {
        int kCount = s.InChannels * s.KernelH * s.KernelW, n = s.OutChannels, oh = s.OutH, ow = s.OutW;
        int inPlane = s.Height * s.Width, image = s.InChannels * inPlane;
        int kQuads = (kCount + 3) / 4, nTiles = nPad / Width;
        for (int t = Grid.GlobalIndex.X; t < kQuads * nTiles; t += Grid.DimX * Group.DimX)
        {
            int kq = t / nTiles, n0 = (t - kq * nTiles) * Width, k0 = 4 * kq;
            bool bias = withBias != 0 && kq == 0;
            int off0 = ConvKernels.TapOffset(s, k0), off1 = ConvKernels.TapOffset(s, Math.Min(k0 + 1, kCount - 1));
            int off2 = ConvKernels.TapOffset(s, Math.Min(k0 + 2, kCount - 1)), off3 = ConvKernels.TapOffset(s, Math.Min(k0 + 3, kCount - 1));
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, s8 = 0, s9 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0, s14 = 0, s15 = 0;
            // c{i}_{j}: tap k0 + i, channel n0 + j.
            float c0_0 = 0, c0_1 = 0, c0_2 = 0, c0_3 = 0, c0_4 = 0, c0_5 = 0, c0_6 = 0, c0_7 = 0, c0_8 = 0, c0_9 = 0, c0_10 = 0, c0_11 = 0, c0_12 = 0, c0_13 = 0, c0_14 = 0, c0_15 = 0;
            float c1_0 = 0, c1_1 = 0, c1_2 = 0, c1_3 = 0, c1_4 = 0, c1_5 = 0, c1_6 = 0, c1_7 = 0, c1_8 = 0, c1_9 = 0, c1_10 = 0, c1_11 = 0, c1_12 = 0, c1_13 = 0, c1_14 = 0, c1_15 = 0;
            float c2_0 = 0, c2_1 = 0, c2_2 = 0, c2_3 = 0, c2_4 = 0, c2_5 = 0, c2_6 = 0, c2_7 = 0, c2_8 = 0, c2_9 = 0, c2_10 = 0, c2_11 = 0, c2_12 = 0, c2_13 = 0, c2_14 = 0, c2_15 = 0;
            float c3_0 = 0, c3_1 = 0, c3_2 = 0, c3_3 = 0, c3_4 = 0, c3_5 = 0, c3_6 = 0, c3_7 = 0, c3_8 = 0, c3_9 = 0, c3_10 = 0, c3_11 = 0, c3_12 = 0, c3_13 = 0, c3_14 = 0, c3_15 = 0;
            int bi = n0;
            for (int b = 0; b < s.Batch; b++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0, ai = b * image + y * s.Width; x < ow; x++, ai++, bi += nPad)
                    {
                        float a0 = input[ai + off0], a1 = input[ai + off1], a2 = input[ai + off2], a3 = input[ai + off3];
                        float b0 = dRows[bi], b1 = dRows[bi + 1], b2 = dRows[bi + 2], b3 = dRows[bi + 3];
                        float b4 = dRows[bi + 4], b5 = dRows[bi + 5], b6 = dRows[bi + 6], b7 = dRows[bi + 7];
                        float b8 = dRows[bi + 8], b9 = dRows[bi + 9], b10 = dRows[bi + 10], b11 = dRows[bi + 11];
                        float b12 = dRows[bi + 12], b13 = dRows[bi + 13], b14 = dRows[bi + 14], b15 = dRows[bi + 15];
                        c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3; c0_4 += a0 * b4; c0_5 += a0 * b5; c0_6 += a0 * b6; c0_7 += a0 * b7;
                        c0_8 += a0 * b8; c0_9 += a0 * b9; c0_10 += a0 * b10; c0_11 += a0 * b11; c0_12 += a0 * b12; c0_13 += a0 * b13; c0_14 += a0 * b14; c0_15 += a0 * b15;
                        c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3; c1_4 += a1 * b4; c1_5 += a1 * b5; c1_6 += a1 * b6; c1_7 += a1 * b7;
                        c1_8 += a1 * b8; c1_9 += a1 * b9; c1_10 += a1 * b10; c1_11 += a1 * b11; c1_12 += a1 * b12; c1_13 += a1 * b13; c1_14 += a1 * b14; c1_15 += a1 * b15;
                        c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3; c2_4 += a2 * b4; c2_5 += a2 * b5; c2_6 += a2 * b6; c2_7 += a2 * b7;
                        c2_8 += a2 * b8; c2_9 += a2 * b9; c2_10 += a2 * b10; c2_11 += a2 * b11; c2_12 += a2 * b12; c2_13 += a2 * b13; c2_14 += a2 * b14; c2_15 += a2 * b15;
                        c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3; c3_4 += a3 * b4; c3_5 += a3 * b5; c3_6 += a3 * b6; c3_7 += a3 * b7;
                        c3_8 += a3 * b8; c3_9 += a3 * b9; c3_10 += a3 * b10; c3_11 += a3 * b11; c3_12 += a3 * b12; c3_13 += a3 * b13; c3_14 += a3 * b14; c3_15 += a3 * b15;
                        if (bias)
                        {
                            s0 += b0; s1 += b1; s2 += b2; s3 += b3; s4 += b4; s5 += b5; s6 += b6; s7 += b7;
                            s8 += b8; s9 += b9; s10 += b10; s11 += b11; s12 += b12; s13 += b13; s14 += b14; s15 += b15;
                        }
                    }
            if (bias)
            {
                StoreBias(dBias, n0, n, s0, s1, s2, s3);
                StoreBias(dBias, n0 + 4, n, s4, s5, s6, s7);
                StoreBias(dBias, n0 + 8, n, s8, s9, s10, s11);
                StoreBias(dBias, n0 + 12, n, s12, s13, s14, s15);
            }
            StoreTaps(dWeight, n0 + 0, n, kCount, k0, c0_0, c1_0, c2_0, c3_0);
            StoreTaps(dWeight, n0 + 1, n, kCount, k0, c0_1, c1_1, c2_1, c3_1);
            StoreTaps(dWeight, n0 + 2, n, kCount, k0, c0_2, c1_2, c2_2, c3_2);
            StoreTaps(dWeight, n0 + 3, n, kCount, k0, c0_3, c1_3, c2_3, c3_3);
            StoreTaps(dWeight, n0 + 4, n, kCount, k0, c0_4, c1_4, c2_4, c3_4);
            StoreTaps(dWeight, n0 + 5, n, kCount, k0, c0_5, c1_5, c2_5, c3_5);
            StoreTaps(dWeight, n0 + 6, n, kCount, k0, c0_6, c1_6, c2_6, c3_6);
            StoreTaps(dWeight, n0 + 7, n, kCount, k0, c0_7, c1_7, c2_7, c3_7);
            StoreTaps(dWeight, n0 + 8, n, kCount, k0, c0_8, c1_8, c2_8, c3_8);
            StoreTaps(dWeight, n0 + 9, n, kCount, k0, c0_9, c1_9, c2_9, c3_9);
            StoreTaps(dWeight, n0 + 10, n, kCount, k0, c0_10, c1_10, c2_10, c3_10);
            StoreTaps(dWeight, n0 + 11, n, kCount, k0, c0_11, c1_11, c2_11, c3_11);
            StoreTaps(dWeight, n0 + 12, n, kCount, k0, c0_12, c1_12, c2_12, c3_12);
            StoreTaps(dWeight, n0 + 13, n, kCount, k0, c0_13, c1_13, c2_13, c3_13);
            StoreTaps(dWeight, n0 + 14, n, kCount, k0, c0_14, c1_14, c2_14, c3_14);
            StoreTaps(dWeight, n0 + 15, n, kCount, k0, c0_15, c1_15, c2_15, c3_15);
        }
    }

    private static void StoreBias(ArrayView<float> dBias, int n0, int n, float v0, float v1, float v2, float v3)
    {
        if (n0 < n) dBias[n0] = v0;
        if (n0 + 1 < n) dBias[n0 + 1] = v1;
        if (n0 + 2 < n) dBias[n0 + 2] = v2;
        if (n0 + 3 < n) dBias[n0 + 3] = v3;
    }

    /// <summary>dWeight[channel, k0 + i] = v_i for the taps that exist, if the channel exists.</summary>
    private static void StoreTaps(ArrayView<float> dWeight, int channel, int n, int kCount, int k0, float v0, float v1, float v2, float v3)
    {
        if (channel >= n) return;
        int at = channel * kCount + k0, left = kCount - k0;
        dWeight[at] = v0;
        if (1 < left) dWeight[at + 1] = v1;
        if (2 < left) dWeight[at + 2] = v2;
        if (3 < left) dWeight[at + 3] = v3;
    }
}

/// <summary>Launches the direct kernels (for a variant that uses them where <see cref="LaunchPolicy.Direct"/> says). Scratch: dOutput's pixel rows.</summary>
internal sealed class DirectConv2d
{
    private readonly LaunchPolicy policy;
    private readonly Action<Index1D, int, ConvShape, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<Index1D, int, ConvShape, int, ArrayView<float>, ArrayView<float>> packPixelRows;
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardWeight;
    private readonly Accelerator accelerator;
    private readonly ScratchBuffer dRows;

    public DirectConv2d(Accelerator accelerator, LaunchPolicy policy)
    {
        this.accelerator = accelerator;
        this.policy = policy;
        forward = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvShape, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DirectConvKernels.Forward, policy.GroupSize);
        packPixelRows = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvShape, int, ArrayView<float>, ArrayView<float>>(DirectConvKernels.PackPixelRows, policy.GroupSize);
        backwardWeight = accelerator.LoadKernel<ConvShape, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DirectConvKernels.BackwardWeight);
        dRows = new ScratchBuffer(accelerator);
    }

    /// <summary>The forward pass on a weight the caller packed as [K, nPad] (<see cref="ConvKernels.PackWeight"/>).</summary>
    public void Forward(ConvShape s, int nPad, int epilogue, ArrayView<float> input, ArrayView<float> packedWeight, ArrayView<float> bias, ArrayView<float> output)
    {
        int items = policy.Threads((long)s.Batch * s.OutH * ((s.OutW + 3) / 4) * (nPad / DirectConvKernels.Width));
        forward(items, items, s, nPad, epilogue, input, packedWeight, bias, output);
    }

    /// <summary>dWeight and, unless <paramref name="dBias"/> is null, dBias, in one pass.</summary>
    public void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight, ArrayView<float>? dBias)
    {
        long m = (long)s.Batch * s.OutH * s.OutW;
        int nPad = PanelConvKernels.PadToWidth(s.OutChannels), kQuads = (s.InChannels * s.KernelH * s.KernelW + 3) / 4;
        var d = dRows.Get(m * nPad);
        int t = policy.Threads(m);
        packPixelRows(t, t, s, nPad, dOutput, d);
        // Without a bias to sum, the kernel gets dWeight in its place and never writes it.
        backwardWeight(accelerator.DefaultStream, new KernelConfig(kQuads * (nPad / DirectConvKernels.Width), 1), s, nPad, dBias is null ? 0 : 1, input, d, dWeight, dBias ?? dWeight);
    }
}
