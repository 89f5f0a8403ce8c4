using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// GemmVariant.Panel: the GEMMs on operands packed first so that each work-item reads what it
// combines side by side, with unit-stride addressing and no edge tests in the hot loop. An item
// owns a 4 x 16 block of C: per step of the sum it reads 4 values of an A panel (broadcast) and
// 16 contiguous values of a B row, for 64 multiply-adds. PoCL runs each work-item's loops alone
// (it vectorises across work-items only loop-free kernels), so this is the shape its compiler
// turns into vector code within one item.
//   forward (and the column-gradient GEMM of the input gradient): A = the im2col panels of 4 pixels
//     (ConvKernels.PackPixels), B = the weight as [K, N padded to 16] (ConvKernels.PackWeight);
//   backward weight: A = dOutput in panels of 8 channels over the pixels (PackChannels),
//     B = the im2col rows, [pixels, K padded to 16] (PackRows);
//   a convolution with at most 16 taps (conv1) runs the forward and weight-gradient passes on the
//     direct kernels instead (DirectConv2d.cs: no packing of the input, the same sums);
//   backward input of a KH x KW > 1 convolution: no padded forward pass (28% of whose products
//     are on padding at conv2's shape) but a column-gradient GEMM of the same kind and a col2im
//     gather (ColumnInputGradient, in Conv2d.cs).
// The forward and weight-gradient sums are the same, in the same order, as in the other variants
// (taps k = 0, 1, ...; pixels b, y, x). The input gradient sums over o first, then the taps, so it
// differs from theirs in the last bits. Shapes and layouts as in Conv2d.cs.

/// <summary>The Panel variant's kernels.</summary>
public static class PanelConvKernels
{
    /// <summary>Columns of C per work-item: the length of the contiguous B row it reads per step.</summary>
    public const int Width = 16;

    /// <summary>n rounded up to a multiple of <see cref="Width"/>.</summary>
    public static int PadToWidth(int n) => (n + Width - 1) / Width * Width;

    /// <summary>
    /// output[b,n,y,x] = epilogue(sum over taps k of panels(pixel, k) * packed[k, n]) for the 4 pixels
    /// of one panel and 16 output channels; <paramref name="kPad"/> is the panels' tap count (K
    /// rounded up to 4), <paramref name="nPad"/> the packed weight's row length (N rounded up to 16).
    /// Channels past N are computed on zero weights and not stored.
    /// </summary>
    public static void Forward(Index1D thread, int threads, ConvShape s, int nPad, int kPad, int epilogue,
        ArrayView<float> panels, ArrayView<float> packed, ArrayView<float> bias, ArrayView<float> output)
    {
        int plane = s.OutH * s.OutW, m = s.Batch * plane, n = s.OutChannels, kCount = s.InChannels * s.KernelH * s.KernelW;
        int mTiles = (m + 3) / 4, nTiles = nPad / Width;
        // Work item = (pixel panel, channel block), channel block fastest: neighbours share a panel.
        for (int t = thread; t < mTiles * nTiles; t += threads)
        {
            int mt = t / nTiles, n0 = (t - mt * nTiles) * Width, m0 = 4 * mt;
            // c{i}_{j}: pixel m0 + i, channel n0 + j.
            float c0_0 = 0, c0_1 = 0, c0_2 = 0, c0_3 = 0, c0_4 = 0, c0_5 = 0, c0_6 = 0, c0_7 = 0, c0_8 = 0, c0_9 = 0, c0_10 = 0, c0_11 = 0, c0_12 = 0, c0_13 = 0, c0_14 = 0, c0_15 = 0;
            float c1_0 = 0, c1_1 = 0, c1_2 = 0, c1_3 = 0, c1_4 = 0, c1_5 = 0, c1_6 = 0, c1_7 = 0, c1_8 = 0, c1_9 = 0, c1_10 = 0, c1_11 = 0, c1_12 = 0, c1_13 = 0, c1_14 = 0, c1_15 = 0;
            float c2_0 = 0, c2_1 = 0, c2_2 = 0, c2_3 = 0, c2_4 = 0, c2_5 = 0, c2_6 = 0, c2_7 = 0, c2_8 = 0, c2_9 = 0, c2_10 = 0, c2_11 = 0, c2_12 = 0, c2_13 = 0, c2_14 = 0, c2_15 = 0;
            float c3_0 = 0, c3_1 = 0, c3_2 = 0, c3_3 = 0, c3_4 = 0, c3_5 = 0, c3_6 = 0, c3_7 = 0, c3_8 = 0, c3_9 = 0, c3_10 = 0, c3_11 = 0, c3_12 = 0, c3_13 = 0, c3_14 = 0, c3_15 = 0;
            for (int k = 0, ai = mt * kPad * 4, bi = n0; k < kCount; k++, ai += 4, bi += nPad)
            {
                float a0 = panels[ai], a1 = panels[ai + 1], a2 = panels[ai + 2], a3 = panels[ai + 3];
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
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 0, 1, n, m0 + 0, m, plane, c0_0, c0_1, c0_2, c0_3);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 4, 1, n, m0 + 0, m, plane, c0_4, c0_5, c0_6, c0_7);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 8, 1, n, m0 + 0, m, plane, c0_8, c0_9, c0_10, c0_11);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 12, 1, n, m0 + 0, m, plane, c0_12, c0_13, c0_14, c0_15);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 0, 1, n, m0 + 1, m, plane, c1_0, c1_1, c1_2, c1_3);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 4, 1, n, m0 + 1, m, plane, c1_4, c1_5, c1_6, c1_7);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 8, 1, n, m0 + 1, m, plane, c1_8, c1_9, c1_10, c1_11);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 12, 1, n, m0 + 1, m, plane, c1_12, c1_13, c1_14, c1_15);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 0, 1, n, m0 + 2, m, plane, c2_0, c2_1, c2_2, c2_3);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 4, 1, n, m0 + 2, m, plane, c2_4, c2_5, c2_6, c2_7);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 8, 1, n, m0 + 2, m, plane, c2_8, c2_9, c2_10, c2_11);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 12, 1, n, m0 + 2, m, plane, c2_12, c2_13, c2_14, c2_15);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 0, 1, n, m0 + 3, m, plane, c3_0, c3_1, c3_2, c3_3);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 4, 1, n, m0 + 3, m, plane, c3_4, c3_5, c3_6, c3_7);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 8, 1, n, m0 + 3, m, plane, c3_8, c3_9, c3_10, c3_11);
            ConvKernels.StorePixel(output, epilogue, bias, n0 + 12, 1, n, m0 + 3, m, plane, c3_12, c3_13, c3_14, c3_15);
        }
    }

    /// <summary>offsets[k] = tap k = (c*KH + ky)*KW + kx's offset from a pixel's top-left input corner, c*H*W + ky*W + kx.</summary>
    public static void TapOffsets(Index1D k, ConvShape s, ArrayView<int> offsets) => offsets[k] = ConvKernels.TapOffset(s, k);

    /// <summary>
    /// The im2col matrix in panels of 4 pixels, as <see cref="ConvKernels.PackPixels"/> lays it out, for an
    /// unpadded input: panels[(t*kPad + k)*4 + j] = input[corner of pixel 4t + j (clamped to the last) + offsets[k]],
    /// 0 for the taps K..kPad-1. The taps come from a table (<see cref="TapOffsets"/>), so the inner loop is one
    /// flat run over k with no bounds tests: 4 loads and 4 adjacent stores per tap. (PackPixels' per-element
    /// padding tests made it 4-5 ms of conv2's 7.6 ms forward pass.)
    /// </summary>
    public static void PackPanels(Index1D thread, int threads, ConvShape s, int kPad, ArrayView<int> offsets, ArrayView<float> input, ArrayView<float> panels)
    {
        int ow = s.OutW, plane = s.OutH * ow, m = s.Batch * plane, mTiles = (m + 3) / 4;
        int kCount = s.InChannels * s.KernelH * s.KernelW, image = s.InChannels * s.Height * s.Width;
        for (int t = thread; t < mTiles; t += threads)
        {
            int b0 = ConvKernels.Pixel(4 * t, m, plane, ow, out int y0, out int x0), b1 = ConvKernels.Pixel(4 * t + 1, m, plane, ow, out int y1, out int x1);
            int b2 = ConvKernels.Pixel(4 * t + 2, m, plane, ow, out int y2, out int x2), b3 = ConvKernels.Pixel(4 * t + 3, m, plane, ow, out int y3, out int x3);
            int c0 = b0 * image + y0 * s.Width + x0, c1 = b1 * image + y1 * s.Width + x1;
            int c2 = b2 * image + y2 * s.Width + x2, c3 = b3 * image + y3 * s.Width + x3;
            int at = t * kPad * 4, k = 0;
            for (; k < kCount; k++, at += 4)
            {
                int o = offsets[k];
                float v0 = input[c0 + o], v1 = input[c1 + o], v2 = input[c2 + o], v3 = input[c3 + o];
                panels[at] = v0; panels[at + 1] = v1; panels[at + 2] = v2; panels[at + 3] = v3;
            }
            for (; k < kPad; k++, at += 4)
            {
                panels[at] = 0f; panels[at + 1] = 0f; panels[at + 2] = 0f; panels[at + 3] = 0f;
            }
        }
    }

    /// <summary>
    /// The im2col matrix as rows: rows[p * kPad + k] = input[b, c, y+ky, x+kx] for pixel p = (b, y, x)
    /// and tap k = (c, ky, kx), read through the tap table (<see cref="TapOffsets"/>) in one flat loop;
    /// 0 for the taps K..kPad-1 (kPad = K rounded up to 16).
    /// </summary>
    public static void PackRows(Index1D thread, int threads, ConvShape s, int kPad, ArrayView<int> offsets, ArrayView<float> input, ArrayView<float> rows)
    {
        int ow = s.OutW, plane = s.OutH * ow, m = s.Batch * plane, kCount = s.InChannels * s.KernelH * s.KernelW;
        int image = s.InChannels * s.Height * s.Width;
        for (int p = thread; p < m; p += threads)
        {
            int b = p / plane, r = p - b * plane, y = r / ow, x = r - y * ow;
            int corner = b * image + y * s.Width + x, at = p * kPad, k = 0;
            for (; k < kCount; k++) rows[at + k] = input[corner + offsets[k]];
            for (; k < kPad; k++) rows[at + k] = 0f;
        }
    }

    /// <summary>dPanels[(oe * M + p) * 8 + i] = dOutput[b, 8oe + i, pixel p] over the M = B*P pixels; 0 for channels past O.</summary>
    public static void PackChannels(Index1D thread, int threads, ConvShape s, ArrayView<float> dOutput, ArrayView<float> dPanels)
    {
        int plane = s.OutH * s.OutW, m = s.Batch * plane, o = s.OutChannels, groups = (o + 7) / 8;
        // One work-item per (channel group, image): its plane's pixels in a loop, with no division per
        // element (two per element were most of the pass).
        for (int q = thread; q < groups * s.Batch; q += threads)
        {
            int oe = q / s.Batch, b = q - oe * s.Batch, at = (oe * m + b * plane) * 8;
            int c0 = 8 * oe, from = b * o * plane;
            for (int r = 0; r < plane; r++, at += 8)
                for (int i = 0; i < 8; i++)
                {
                    // Clamped load, then select (a load under the condition is a branch PoCL cannot vectorise).
                    float v = dOutput[from + Math.Min(c0 + i, o - 1) * plane + r];
                    dPanels[at + i] = c0 + i < o ? v : 0f;
                }
        }
    }

    /// <summary>Output channels per work-item of <see cref="BackwardWeight"/> (the dOutput panels' width).</summary>
    public const int WeightChannels = 8;

    /// <summary>
    /// dWeight[o, k] = sum over pixels p = (b, y, x), in order, of dOutput[o, p] * im2col[p, k] for 8
    /// channels and 16 taps (<paramref name="kPad"/> = K rounded up to 16): per pixel 8 broadcast values
    /// and one 16-wide row, 128 multiply-adds. With
    /// <paramref name="withBias"/>, the first tap block of each channel group also sums dBias[o]
    /// (pixels in the same order as <see cref="ConvKernels.BackwardBias"/>, so the same sums).
    /// </summary>
    public static void BackwardWeight(Index1D thread, int threads, ConvShape s, int kPad, int withBias,
        ArrayView<float> dPanels, ArrayView<float> rows, ArrayView<float> dWeight, ArrayView<float> dBias)
    {
        int m = s.Batch * s.OutH * s.OutW, o = s.OutChannels, kCount = s.InChannels * s.KernelH * s.KernelW;
        int groups = (o + 7) / 8, kTiles = kPad / Width;
        for (int t = thread; t < groups * kTiles; t += threads)
        {
            int oe = t / kTiles, kt = t - oe * kTiles, o0 = 8 * oe, k0 = kt * Width;
            bool bias = withBias != 0 && kt == 0;
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
            // c{i}_{j}: channel o0 + i, tap k0 + j.
            float c0_0 = 0, c0_1 = 0, c0_2 = 0, c0_3 = 0, c0_4 = 0, c0_5 = 0, c0_6 = 0, c0_7 = 0, c0_8 = 0, c0_9 = 0, c0_10 = 0, c0_11 = 0, c0_12 = 0, c0_13 = 0, c0_14 = 0, c0_15 = 0;
            float c1_0 = 0, c1_1 = 0, c1_2 = 0, c1_3 = 0, c1_4 = 0, c1_5 = 0, c1_6 = 0, c1_7 = 0, c1_8 = 0, c1_9 = 0, c1_10 = 0, c1_11 = 0, c1_12 = 0, c1_13 = 0, c1_14 = 0, c1_15 = 0;
            float c2_0 = 0, c2_1 = 0, c2_2 = 0, c2_3 = 0, c2_4 = 0, c2_5 = 0, c2_6 = 0, c2_7 = 0, c2_8 = 0, c2_9 = 0, c2_10 = 0, c2_11 = 0, c2_12 = 0, c2_13 = 0, c2_14 = 0, c2_15 = 0;
            float c3_0 = 0, c3_1 = 0, c3_2 = 0, c3_3 = 0, c3_4 = 0, c3_5 = 0, c3_6 = 0, c3_7 = 0, c3_8 = 0, c3_9 = 0, c3_10 = 0, c3_11 = 0, c3_12 = 0, c3_13 = 0, c3_14 = 0, c3_15 = 0;
            float c4_0 = 0, c4_1 = 0, c4_2 = 0, c4_3 = 0, c4_4 = 0, c4_5 = 0, c4_6 = 0, c4_7 = 0, c4_8 = 0, c4_9 = 0, c4_10 = 0, c4_11 = 0, c4_12 = 0, c4_13 = 0, c4_14 = 0, c4_15 = 0;
            float c5_0 = 0, c5_1 = 0, c5_2 = 0, c5_3 = 0, c5_4 = 0, c5_5 = 0, c5_6 = 0, c5_7 = 0, c5_8 = 0, c5_9 = 0, c5_10 = 0, c5_11 = 0, c5_12 = 0, c5_13 = 0, c5_14 = 0, c5_15 = 0;
            float c6_0 = 0, c6_1 = 0, c6_2 = 0, c6_3 = 0, c6_4 = 0, c6_5 = 0, c6_6 = 0, c6_7 = 0, c6_8 = 0, c6_9 = 0, c6_10 = 0, c6_11 = 0, c6_12 = 0, c6_13 = 0, c6_14 = 0, c6_15 = 0;
            float c7_0 = 0, c7_1 = 0, c7_2 = 0, c7_3 = 0, c7_4 = 0, c7_5 = 0, c7_6 = 0, c7_7 = 0, c7_8 = 0, c7_9 = 0, c7_10 = 0, c7_11 = 0, c7_12 = 0, c7_13 = 0, c7_14 = 0, c7_15 = 0;
            for (int p = 0, ai = oe * m * 8, bi = k0; p < m; p++, ai += 8, bi += kPad)
            {
                float a0 = dPanels[ai], a1 = dPanels[ai + 1], a2 = dPanels[ai + 2], a3 = dPanels[ai + 3], a4 = dPanels[ai + 4], a5 = dPanels[ai + 5], a6 = dPanels[ai + 6], a7 = dPanels[ai + 7];
                float b0 = rows[bi], b1 = rows[bi + 1], b2 = rows[bi + 2], b3 = rows[bi + 3];
                float b4 = rows[bi + 4], b5 = rows[bi + 5], b6 = rows[bi + 6], b7 = rows[bi + 7];
                float b8 = rows[bi + 8], b9 = rows[bi + 9], b10 = rows[bi + 10], b11 = rows[bi + 11];
                float b12 = rows[bi + 12], b13 = rows[bi + 13], b14 = rows[bi + 14], b15 = rows[bi + 15];
                c0_0 += a0 * b0; c0_1 += a0 * b1; c0_2 += a0 * b2; c0_3 += a0 * b3; c0_4 += a0 * b4; c0_5 += a0 * b5; c0_6 += a0 * b6; c0_7 += a0 * b7;
                c0_8 += a0 * b8; c0_9 += a0 * b9; c0_10 += a0 * b10; c0_11 += a0 * b11; c0_12 += a0 * b12; c0_13 += a0 * b13; c0_14 += a0 * b14; c0_15 += a0 * b15;
                c1_0 += a1 * b0; c1_1 += a1 * b1; c1_2 += a1 * b2; c1_3 += a1 * b3; c1_4 += a1 * b4; c1_5 += a1 * b5; c1_6 += a1 * b6; c1_7 += a1 * b7;
                c1_8 += a1 * b8; c1_9 += a1 * b9; c1_10 += a1 * b10; c1_11 += a1 * b11; c1_12 += a1 * b12; c1_13 += a1 * b13; c1_14 += a1 * b14; c1_15 += a1 * b15;
                c2_0 += a2 * b0; c2_1 += a2 * b1; c2_2 += a2 * b2; c2_3 += a2 * b3; c2_4 += a2 * b4; c2_5 += a2 * b5; c2_6 += a2 * b6; c2_7 += a2 * b7;
                c2_8 += a2 * b8; c2_9 += a2 * b9; c2_10 += a2 * b10; c2_11 += a2 * b11; c2_12 += a2 * b12; c2_13 += a2 * b13; c2_14 += a2 * b14; c2_15 += a2 * b15;
                c3_0 += a3 * b0; c3_1 += a3 * b1; c3_2 += a3 * b2; c3_3 += a3 * b3; c3_4 += a3 * b4; c3_5 += a3 * b5; c3_6 += a3 * b6; c3_7 += a3 * b7;
                c3_8 += a3 * b8; c3_9 += a3 * b9; c3_10 += a3 * b10; c3_11 += a3 * b11; c3_12 += a3 * b12; c3_13 += a3 * b13; c3_14 += a3 * b14; c3_15 += a3 * b15;
                c4_0 += a4 * b0; c4_1 += a4 * b1; c4_2 += a4 * b2; c4_3 += a4 * b3; c4_4 += a4 * b4; c4_5 += a4 * b5; c4_6 += a4 * b6; c4_7 += a4 * b7;
                c4_8 += a4 * b8; c4_9 += a4 * b9; c4_10 += a4 * b10; c4_11 += a4 * b11; c4_12 += a4 * b12; c4_13 += a4 * b13; c4_14 += a4 * b14; c4_15 += a4 * b15;
                c5_0 += a5 * b0; c5_1 += a5 * b1; c5_2 += a5 * b2; c5_3 += a5 * b3; c5_4 += a5 * b4; c5_5 += a5 * b5; c5_6 += a5 * b6; c5_7 += a5 * b7;
                c5_8 += a5 * b8; c5_9 += a5 * b9; c5_10 += a5 * b10; c5_11 += a5 * b11; c5_12 += a5 * b12; c5_13 += a5 * b13; c5_14 += a5 * b14; c5_15 += a5 * b15;
                c6_0 += a6 * b0; c6_1 += a6 * b1; c6_2 += a6 * b2; c6_3 += a6 * b3; c6_4 += a6 * b4; c6_5 += a6 * b5; c6_6 += a6 * b6; c6_7 += a6 * b7;
                c6_8 += a6 * b8; c6_9 += a6 * b9; c6_10 += a6 * b10; c6_11 += a6 * b11; c6_12 += a6 * b12; c6_13 += a6 * b13; c6_14 += a6 * b14; c6_15 += a6 * b15;
                c7_0 += a7 * b0; c7_1 += a7 * b1; c7_2 += a7 * b2; c7_3 += a7 * b3; c7_4 += a7 * b4; c7_5 += a7 * b5; c7_6 += a7 * b6; c7_7 += a7 * b7;
                c7_8 += a7 * b8; c7_9 += a7 * b9; c7_10 += a7 * b10; c7_11 += a7 * b11; c7_12 += a7 * b12; c7_13 += a7 * b13; c7_14 += a7 * b14; c7_15 += a7 * b15;
                if (bias) { s0 += a0; s1 += a1; s2 += a2; s3 += a3; s4 += a4; s5 += a5; s6 += a6; s7 += a7; }
            }
            if (bias)
            {
                if (o0 + 0 < o) dBias[o0 + 0] = s0;
                if (o0 + 1 < o) dBias[o0 + 1] = s1;
                if (o0 + 2 < o) dBias[o0 + 2] = s2;
                if (o0 + 3 < o) dBias[o0 + 3] = s3;
                if (o0 + 4 < o) dBias[o0 + 4] = s4;
                if (o0 + 5 < o) dBias[o0 + 5] = s5;
                if (o0 + 6 < o) dBias[o0 + 6] = s6;
                if (o0 + 7 < o) dBias[o0 + 7] = s7;
            }
            StoreRow(dWeight, o0 + 0, o, kCount, k0, c0_0, c0_1, c0_2, c0_3, c0_4, c0_5, c0_6, c0_7, c0_8, c0_9, c0_10, c0_11, c0_12, c0_13, c0_14, c0_15);
            StoreRow(dWeight, o0 + 1, o, kCount, k0, c1_0, c1_1, c1_2, c1_3, c1_4, c1_5, c1_6, c1_7, c1_8, c1_9, c1_10, c1_11, c1_12, c1_13, c1_14, c1_15);
            StoreRow(dWeight, o0 + 2, o, kCount, k0, c2_0, c2_1, c2_2, c2_3, c2_4, c2_5, c2_6, c2_7, c2_8, c2_9, c2_10, c2_11, c2_12, c2_13, c2_14, c2_15);
            StoreRow(dWeight, o0 + 3, o, kCount, k0, c3_0, c3_1, c3_2, c3_3, c3_4, c3_5, c3_6, c3_7, c3_8, c3_9, c3_10, c3_11, c3_12, c3_13, c3_14, c3_15);
            StoreRow(dWeight, o0 + 4, o, kCount, k0, c4_0, c4_1, c4_2, c4_3, c4_4, c4_5, c4_6, c4_7, c4_8, c4_9, c4_10, c4_11, c4_12, c4_13, c4_14, c4_15);
            StoreRow(dWeight, o0 + 5, o, kCount, k0, c5_0, c5_1, c5_2, c5_3, c5_4, c5_5, c5_6, c5_7, c5_8, c5_9, c5_10, c5_11, c5_12, c5_13, c5_14, c5_15);
            StoreRow(dWeight, o0 + 6, o, kCount, k0, c6_0, c6_1, c6_2, c6_3, c6_4, c6_5, c6_6, c6_7, c6_8, c6_9, c6_10, c6_11, c6_12, c6_13, c6_14, c6_15);
            StoreRow(dWeight, o0 + 7, o, kCount, k0, c7_0, c7_1, c7_2, c7_3, c7_4, c7_5, c7_6, c7_7, c7_8, c7_9, c7_10, c7_11, c7_12, c7_13, c7_14, c7_15);
        }
    }

    /// <summary>dWeight[channel, k0 + j] = v_j for the channel and taps that exist.</summary>
    private static void StoreRow(ArrayView<float> dWeight, int channel, int o, int kCount, int k0,
        float v0, float v1, float v2, float v3, float v4, float v5, float v6, float v7, float v8, float v9, float v10, float v11, float v12, float v13, float v14, float v15)
    {
        if (channel >= o) return;
        int at = channel * kCount + k0, left = kCount - k0;
        if (0 < left) dWeight[at + 0] = v0;
        if (1 < left) dWeight[at + 1] = v1;
        if (2 < left) dWeight[at + 2] = v2;
        if (3 < left) dWeight[at + 3] = v3;
        if (4 < left) dWeight[at + 4] = v4;
        if (5 < left) dWeight[at + 5] = v5;
        if (6 < left) dWeight[at + 6] = v6;
        if (7 < left) dWeight[at + 7] = v7;
        if (8 < left) dWeight[at + 8] = v8;
        if (9 < left) dWeight[at + 9] = v9;
        if (10 < left) dWeight[at + 10] = v10;
        if (11 < left) dWeight[at + 11] = v11;
        if (12 < left) dWeight[at + 12] = v12;
        if (13 < left) dWeight[at + 13] = v13;
        if (14 < left) dWeight[at + 14] = v14;
        if (15 < left) dWeight[at + 15] = v15;
    }
}

/// <summary>
/// Launches the Panel variant. Scratch buffers, grown on demand: the packed weight, the pixel
/// panels, the im2col rows and the dOutput channel panels.
/// </summary>
public sealed class PanelConv2d : Conv2d
{
    private readonly Action<Index1D, int, ConvTaps, int, ArrayView<float>, ArrayView<float>> packWeight;
    private readonly Action<AcceleratorStream, KernelConfig, ConvShape, int, int, ArrayView<float>, ArrayView<float>> packPixels;
    private readonly Action<Index1D, int, ConvShape, int, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<Index1D, ConvShape, ArrayView<int>> tapOffsets;
    private readonly Action<Index1D, int, ConvShape, int, ArrayView<int>, ArrayView<float>, ArrayView<float>> packPanels, packRows;
    private readonly Action<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>> packChannels;
    private readonly Action<Index1D, int, ConvShape, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardWeight;
    private readonly ColumnInputGradient columns;
    private readonly DirectConv2d direct;
    private readonly ScratchBuffer packed, panels, rows, dPanels, offsets;

    public PanelConv2d(Accelerator accelerator, LaunchPolicy policy) : base(accelerator, policy)
    {
        packWeight = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvTaps, int, ArrayView<float>, ArrayView<float>>(ConvKernels.PackWeight, policy.GroupSize);
        packPixels = accelerator.LoadKernel<ConvShape, int, int, ArrayView<float>, ArrayView<float>>(ConvKernels.PackPixels);
        forward = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvShape, int, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(PanelConvKernels.Forward, policy.GroupSize);
        tapOffsets = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, ConvShape, ArrayView<int>>(PanelConvKernels.TapOffsets, policy.GroupSize);
        packPanels = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvShape, int, ArrayView<int>, ArrayView<float>, ArrayView<float>>(PanelConvKernels.PackPanels, policy.GroupSize);
        packRows = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvShape, int, ArrayView<int>, ArrayView<float>, ArrayView<float>>(PanelConvKernels.PackRows, policy.GroupSize);
        packChannels = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>>(PanelConvKernels.PackChannels, policy.GroupSize);
        backwardWeight = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvShape, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(PanelConvKernels.BackwardWeight, policy.GroupSize);
        columns = new ColumnInputGradient(accelerator, policy);
        direct = new DirectConv2d(accelerator, policy);
        packed = new ScratchBuffer(accelerator);
        panels = new ScratchBuffer(accelerator);
        rows = new ScratchBuffer(accelerator);
        dPanels = new ScratchBuffer(accelerator);
        offsets = new ScratchBuffer(accelerator);
    }

    /// <summary>The tap table of <paramref name="s"/> (<see cref="PanelConvKernels.TapOffsets"/>), rebuilt every call (K ints).</summary>
    private ArrayView<int> Taps(ConvShape s)
    {
        int kCount = s.InChannels * s.KernelH * s.KernelW;
        var table = offsets.Get(kCount).Cast<int>();
        tapOffsets(kCount, s, table);
        return table;
    }

    internal override void RunTaps(ConvTaps g, int epilogue, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output,
        int padY = 0, int padX = 0)
    {
        var s = g.Shape;
        int kCount = s.InChannels * s.KernelH * s.KernelW, kPad = ConvKernels.PadTo4(kCount), nPad = PanelConvKernels.PadToWidth(s.OutChannels);
        var w = packed.Get((long)kCount * nPad);
        int t = Policy.Threads(kCount);
        packWeight(t, t, g, nPad, weight, w);
        if (padY == 0 && padX == 0 && LaunchPolicy.Direct(s))
        {
            direct.Forward(s, nPad, epilogue, input, w, bias, output);
            return;
        }
        long pixelTiles = ((long)s.Batch * s.OutH * s.OutW + 3) / 4;
        var a = panels.Get(pixelTiles * 4 * kPad);
        if (padY == 0 && padX == 0)
        {
            int tp = Policy.Threads(pixelTiles);
            packPanels(tp, tp, s, kPad, Taps(s), input, a);
        }
        else packPixels(Accelerator.DefaultStream, Policy.RegisterGroups(pixelTiles), s, padY, padX, input, a);
        int items = Policy.Threads(pixelTiles * (nPad / PanelConvKernels.Width));
        forward(items, items, s, nPad, kPad, epilogue, a, w, bias, output);
    }

    public override void BackwardInput(ConvShape s, ArrayView<float> dOutput, ArrayView<float> weight, ArrayView<float> dInput)
    {
        if (!columns.Run(this, s, dOutput, weight, dInput)) base.BackwardInput(s, dOutput, weight, dInput);
    }

    public override void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight) =>
        BackwardWeight(s, dOutput, input, dWeight, null);

    /// <summary>One pass: the bias is summed inside the weight pass (the same sums as <see cref="Conv2d.BackwardBias"/>).</summary>
    public override void BackwardWeightAndBias(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight, ArrayView<float> dBias) =>
        BackwardWeight(s, dOutput, input, dWeight, dBias);

    private void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight, ArrayView<float>? dBias)
    {
        if (LaunchPolicy.Direct(s))
        {
            direct.BackwardWeight(s, dOutput, input, dWeight, dBias);
            return;
        }
        long m = (long)s.Batch * s.OutH * s.OutW;
        int kPad = PanelConvKernels.PadToWidth(s.InChannels * s.KernelH * s.KernelW), groups = (s.OutChannels + PanelConvKernels.WeightChannels - 1) / PanelConvKernels.WeightChannels;
        var r = rows.Get(m * kPad);
        int tr = Policy.Threads(m);
        packRows(tr, tr, s, kPad, Taps(s), input, r);
        var d = dPanels.Get(groups * PanelConvKernels.WeightChannels * m);
        int td = Policy.Threads((long)groups * s.Batch);
        packChannels(td, td, s, dOutput, d);
        // Without a bias to sum, the kernel gets dWeight in its place and never writes it.
        int items = Policy.Threads((long)groups * (kPad / PanelConvKernels.Width));
        backwardWeight(items, items, s, kPad, dBias is null ? 0 : 1, d, r, dWeight, dBias ?? dWeight);
    }
}
