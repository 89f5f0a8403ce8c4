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
// How the GEMMs are computed is a GemmVariant, one file each in Kernels/Gemm/ (its kernels, its
// launches, its scratch buffers); only the variant an accelerator uses is compiled.

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

/// <summary>The kernels and helpers several GEMM variants share: packing, stores, the bias gradient.</summary>
public static class ConvKernels
{
    /// <summary>Stores output pixel <paramref name="p"/> of channels n0 + lanes*j (those that exist), after the <see cref="Epilogue"/>.</summary>
    internal static void StorePixel(ArrayView<float> output, int epilogue, ArrayView<float> bias, int n0, int lanes, int n, int p, int m, int plane,
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

    /// <summary>dWeight[channel, k + step*j] = v_j for the taps that exist.</summary>
    internal static void StoreWeightRow(ArrayView<float> dWeight, int channel, int kCount, int k, int step, float v0, float v1, float v2, float v3)
    {
        int at = channel * kCount;
        if (k < kCount) dWeight[at + k] = v0;
        if (k + step < kCount) dWeight[at + k + step] = v1;
        if (k + 2 * step < kCount) dWeight[at + k + 2 * step] = v2;
        if (k + 3 * step < kCount) dWeight[at + k + 3 * step] = v3;
    }

    internal static void StoreWeightColumn(ArrayView<float> dWeight, int o0, int o, int k, int kCount, float v0, float v1, float v2, float v3)
    {
        if (k >= kCount) return;
        dWeight[o0 * kCount + k] = v0;
        if (o0 + 1 < o) dWeight[(o0 + 1) * kCount + k] = v1;
        if (o0 + 2 < o) dWeight[(o0 + 2) * kCount + k] = v2;
        if (o0 + 3 < o) dWeight[(o0 + 3) * kCount + k] = v3;
    }

    /// <summary>
    /// packed[k * nPad + n] = weight(n, k) for tap k = (c*KH + ky)*KW + kx, zero for n &gt;= N:
    /// the weight transposed so that the output channels a group works on lie side by side, and
    /// padded so the GEMM loop needs no edge test (the Register and Panel variants' B operand). Small (O*K floats); rebuilt every call.
    /// </summary>
    public static void PackWeight(Index1D thread, int threads, ConvTaps g, int nPad, ArrayView<float> weight, ArrayView<float> packed)
    {
        var s = g.Shape;
        int taps = s.KernelH * s.KernelW, kCount = s.InChannels * taps;
        // One work-item per tap row (a division per element was a third of fc1's forward pass).
        for (int k = thread; k < kCount; k += threads)
        {
            int c = k / taps, r = k - c * taps, ky = r / s.KernelW, kx = r - ky * s.KernelW;
            int from = g.WeightBase + c * g.StrideC + ky * g.StrideY + kx * g.StrideX, at = k * nPad;
            for (int n = 0; n < nPad; n++)
            {
                // Clamped load, then select (a load under the condition is a branch PoCL cannot vectorise).
                float v = weight[from + Math.Min(n, s.OutChannels - 1) * g.StrideN];
                packed[at + n] = n < s.OutChannels ? v : 0f;
            }
        }
    }

    /// <summary>
    /// The im2col matrix in panels of 4 output pixels (the CpuPacked and Panel variants' A operand),
    /// panels[(t*KPad + k)*4 + j] = input[b, c, y+ky-padY, x+kx-padX] for pixel 4t + j (clamped to
    /// the last pixel) and tap k = (c, ky, kx), zero outside the real input and for the taps
    /// K..KPad-1 that pad K to a multiple of 4 (so the GEMMs read whole 4-tap quads, see
    /// <see cref="Float4x4"/>). <paramref name="s"/> is the convolution as if the input were
    /// padded by padY/padX on every side (the backward input pass reads dOutput this way,
    /// without building the padded copy). The forward and the CpuPacked backward weight pass share it.
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

    /// <summary>Tap k = (c*KH + ky)*KW + kx's offset from a pixel's top-left corner in an unpadded input: c*H*W + ky*W + kx.</summary>
    internal static int TapOffset(ConvShape s, int k)
    {
        int taps = s.KernelH * s.KernelW, c = k / taps, r = k - c * taps, ky = r / s.KernelW;
        return c * s.Height * s.Width + ky * s.Width + (r - ky * s.KernelW);
    }

    /// <summary>Image b, row y and column x of flat output pixel min(p, m-1).</summary>
    internal static int Pixel(int p, int m, int plane, int ow, out int y, out int x)
    {
        p = Math.Min(p, m - 1);
        int b = p / plane, r = p - b * plane;
        y = r / ow;
        x = r - y * ow;
        return b;
    }

    internal static float Tap(ArrayView<float> input, int b, int c, int channels, int y, int x, int h, int w, int inPlane) =>
        y >= 0 && y < h && x >= 0 && x < w ? input[(b * channels + c) * inPlane + y * w + x] : 0f;

    /// <summary>
    /// dInput[b,c,y,x] = sum over ky, kx (in order) of dCols[b, k = (c*KH + ky)*KW + kx, y-ky, x-kx]
    /// over the taps whose output pixel exists. dCols is [B, K, OH, OW]. A work-item takes one input
    /// row and adds each tap's column row to it, a contiguous run of x: the indices are decoded once
    /// per row (per element, the divisions by non-constant sizes were most of the pass).
    /// </summary>
    public static void Col2Im(Index1D thread, int threads, ConvShape s, ArrayView<float> dCols, ArrayView<float> dInput)
    {
        int h = s.Height, w = s.Width, oh = s.OutH, ow = s.OutW, plane = oh * ow, taps = s.KernelH * s.KernelW;
        int rows = s.Batch * s.InChannels * h;
        for (int row = thread; row < rows; row += threads)
        {
            int bc = row / h, y = row - bc * h, at = row * w;
            for (int x = 0; x < w; x++) dInput[at + x] = 0f;
            // Channel c of image b: (b*C + c) * taps = bc * taps columns precede its first one.
            for (int ky = 0; ky < s.KernelH; ky++)
            {
                int oy = y - ky;
                if (oy < 0 || oy >= oh) continue;
                for (int kx = 0; kx < s.KernelW; kx++)
                {
                    int from = (bc * taps + ky * s.KernelW + kx) * plane + oy * ow - kx;
                    for (int x = kx; x < kx + ow; x++) dInput[at + x] += dCols[from + x];
                }
            }
        }
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
/// The convolution (and, through <see cref="RunTaps"/>, the dense layers' GEMMs) on one
/// accelerator, in the GEMM variant its <see cref="LaunchPolicy"/> picks: kernels compiled once,
/// in the constructor. <see cref="Create"/> builds the variant; each owns its scratch buffers.
/// </summary>
public abstract class Conv2d
{
    protected Accelerator Accelerator { get; }
    protected LaunchPolicy Policy { get; }
    private readonly Action<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>> backwardBias;

    protected Conv2d(Accelerator accelerator, LaunchPolicy policy)
    {
        Accelerator = accelerator;
        Policy = policy;
        backwardBias = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>>(ConvKernels.BackwardBias, policy.GroupSize);
    }

    /// <summary>The variant <paramref name="policy"/> names, compiled for <paramref name="accelerator"/>.</summary>
    public static Conv2d Create(Accelerator accelerator, LaunchPolicy policy) => policy.Gemm switch
    {
        GemmVariant.Register => new RegisterConv2d(accelerator, policy),
        GemmVariant.CpuPacked => new CpuPackedConv2d(accelerator, policy),
        GemmVariant.SharedTiled => new SharedTiledConv2d(accelerator, policy),
        GemmVariant.Panel => new PanelConv2d(accelerator, policy),
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy.Gemm, "unknown GEMM variant"),
    };

    /// <summary>output = conv(input, weight) + bias.</summary>
    public void Forward(ConvShape s, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output) =>
        RunTaps(ConvTaps.Forward(s), Epilogue.Bias, input, weight, bias, output);

    /// <summary>output = ReLU(conv(input, weight) + bias) in one pass: <see cref="Forward"/> then <see cref="Relu.Forward"/>, fused.</summary>
    public void ForwardRelu(ConvShape s, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output) =>
        RunTaps(ConvTaps.Forward(s), Epilogue.BiasRelu, input, weight, bias, output);

    /// <summary>
    /// Runs <paramref name="g"/> as a forward convolution (the GEMM core shared with <see cref="Dense"/>),
    /// applying <paramref name="epilogue"/> (<see cref="Epilogue"/> flags) to each output.
    /// With padY/padX, <paramref name="input"/> is the unpadded tensor and <c>g.Shape</c> the padded one.
    /// </summary>
    internal abstract void RunTaps(ConvTaps g, int epilogue, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output,
        int padY = 0, int padX = 0);

    /// <summary>dInput = the forward kernels run on dOutput read as zero-padded by KH-1, KW-1, with the weight flipped and transposed.</summary>
    public virtual void BackwardInput(ConvShape s, ArrayView<float> dOutput, ArrayView<float> weight, ArrayView<float> dInput)
    {
        // No bias: the bias view is never read without Epilogue.Bias.
        RunTaps(ConvTaps.BackwardInput(s), Epilogue.None, dOutput, weight, weight, dInput, s.KernelH - 1, s.KernelW - 1);
    }

    public abstract void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight);

    /// <summary>
    /// <see cref="BackwardWeight"/> and <see cref="BackwardBias"/> together: a variant may sum the
    /// bias inside the weight pass (the same sums); by default the two passes run one after the other.
    /// </summary>
    public virtual void BackwardWeightAndBias(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight, ArrayView<float> dBias)
    {
        BackwardWeight(s, dOutput, input, dWeight);
        BackwardBias(s, dOutput, dBias);
    }

    public void BackwardBias(ConvShape s, ArrayView<float> dOutput, ArrayView<float> dBias)
    {
        int t = Policy.Threads(s.OutChannels);
        backwardBias(t, t, s, dOutput, dBias);
    }
}

/// <summary>
/// The input gradient of a convolution larger than 1x1 without reading padding: the column
/// gradient dCols[b, k, p] = sum over o of weight[o, k] * dOutput[b, o, p] (a 1x1 convolution of
/// dOutput with O channels in and K = C*KH*KW out, run by the variant's own GEMM), then
/// <see cref="ConvKernels.Col2Im"/> gathers each input pixel's KH * KW column entries, in tap
/// order. The padded forward pass it replaces spends (HW - OHOW)/HW of its products on padding
/// (28% at conv2's shape). It sums over o first, then the taps: another order than that pass.
/// </summary>
internal sealed class ColumnInputGradient(Accelerator accelerator, LaunchPolicy policy)
{
    private readonly Action<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>> col2Im =
        accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>>(ConvKernels.Col2Im, policy.GroupSize);
    private readonly ScratchBuffer dCols = new(accelerator);

    /// <summary>Computes dInput through <paramref name="conv"/>'s GEMM; false (nothing done) for a 1x1 kernel, which reads no padding.</summary>
    public bool Run(Conv2d conv, ConvShape s, ArrayView<float> dOutput, ArrayView<float> weight, ArrayView<float> dInput)
    {
        if (s.KernelH * s.KernelW == 1) return false;
        int kCount = s.InChannels * s.KernelH * s.KernelW;
        // weight(n = k, c = o) = weight[o*K + k]: the forward weight read transposed.
        var columns = new ConvTaps(new ConvShape(s.Batch, s.OutChannels, kCount, s.OutH, s.OutW, 1, 1), 0, 1, kCount, 0, 0);
        var cols = dCols.Get((long)s.Batch * kCount * s.OutH * s.OutW);
        conv.RunTaps(columns, Epilogue.None, dOutput, weight, weight, cols);
        int t = policy.Threads((long)s.Batch * s.InChannels * s.Height);
        col2Im(t, t, s, cols, dInput);
        return true;
    }
}
