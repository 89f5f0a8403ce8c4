using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// GemmVariant.SharedTiled, real GPUs' (CUDA, OpenCL GPUs): classic shared-memory tiling. A group
// computes a TileM x TileN output tile, staging operand tiles of TileK along the sum in shared
// memory between barriers; each thread owns a 4 x 4 register block. Padding and edges are read
// as zeros while loading, so no pack or pad pass runs. Shapes and layouts as in Conv2d.cs.

/// <summary>The shared-tiled variant's kernels.</summary>
public static class SharedTiledConvKernels
{
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
                    ConvKernels.StorePixel(output, epilogue, bias, n0 + tx, 8, n, m0 + ty, m, plane, c00, c10, c20, c30);
                    ConvKernels.StorePixel(output, epilogue, bias, n0 + tx, 8, n, m0 + ty + 8, m, plane, c01, c11, c21, c31);
                    ConvKernels.StorePixel(output, epilogue, bias, n0 + tx, 8, n, m0 + ty + 16, m, plane, c02, c12, c22, c32);
                    ConvKernels.StorePixel(output, epilogue, bias, n0 + tx, 8, n, m0 + ty + 24, m, plane, c03, c13, c23, c33);
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
                    ConvKernels.StoreWeightRow(dWeight, o0 + ty, kCount, k0 + tx, 8, c00, c01, c02, c03);
                    if (o0 + ty + 8 < o) ConvKernels.StoreWeightRow(dWeight, o0 + ty + 8, kCount, k0 + tx, 8, c10, c11, c12, c13);
                    if (o0 + ty + 16 < o) ConvKernels.StoreWeightRow(dWeight, o0 + ty + 16, kCount, k0 + tx, 8, c20, c21, c22, c23);
                    if (o0 + ty + 24 < o) ConvKernels.StoreWeightRow(dWeight, o0 + ty + 24, kCount, k0 + tx, 8, c30, c31, c32, c33);
                }
            }
        }
    }
}

/// <summary>Launches the shared-tiled variant (explicitly grouped kernels with barriers inside; no scratch buffers).</summary>
public sealed class SharedTiledConv2d : Conv2d
{
    private readonly Action<KernelConfig, ConvTaps, int, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<KernelConfig, ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardWeight;

    public SharedTiledConv2d(Accelerator accelerator, LaunchPolicy policy) : base(accelerator, policy)
    {
        forward = accelerator.LoadStreamKernel<ConvTaps, int, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SharedTiledConvKernels.ForwardTiled);
        backwardWeight = accelerator.LoadStreamKernel<ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SharedTiledConvKernels.BackwardWeightTiled);
    }

    internal override void RunTaps(ConvTaps g, int epilogue, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output,
        int padY = 0, int padX = 0)
    {
        var s = g.Shape;
        // Reads the weight through g's strides and the input with its padding as zeros: no pack or pad pass.
        long tiles = ((long)s.Batch * s.OutH * s.OutW + SharedTiledConvKernels.TileM - 1) / SharedTiledConvKernels.TileM
            * ((s.OutChannels + SharedTiledConvKernels.TileN - 1) / SharedTiledConvKernels.TileN);
        forward(Policy.TiledGroups(tiles), g, padY, padX, epilogue, input, weight, bias, output);
    }

    public override void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight)
    {
        int kCount = s.InChannels * s.KernelH * s.KernelW;
        long outputTiles = (s.OutChannels + SharedTiledConvKernels.TileM - 1) / SharedTiledConvKernels.TileM
            * (long)((kCount + SharedTiledConvKernels.TileN - 1) / SharedTiledConvKernels.TileN);
        backwardWeight(Policy.TiledGroups(outputTiles), s, dOutput, input, dWeight);
    }
}
