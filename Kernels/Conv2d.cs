using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// 2-D convolution, stride 1, valid padding (PyTorch/Keras "valid"; cross-correlation).
// Shapes: B batch, C input channels, O output channels, H x W input, KH x KW kernel,
//         OH = H - KH + 1, OW = W - KW + 1.
// Layouts: input [B,C,H,W], weight [O,C,KH,KW], bias [O], output [B,O,OH,OW].

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

/// <summary>The convolution kernels: one thread per output element, summing in a fixed order.</summary>
public static class Conv2dKernels
{
    /// <summary>output = conv(input, weight) + bias.</summary>
    public static void Forward(Index1D thread, int threads, ConvShape s,
        ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output)
    {
        int oh = s.OutH, ow = s.OutW;
        for (int i = thread; i < s.OutputSize; i += threads)
        {
            int x = i % ow, r = i / ow;
            int y = r % oh; r /= oh;
            int o = r % s.OutChannels, b = r / s.OutChannels;
            float acc = bias[o];
            for (int c = 0; c < s.InChannels; c++)
                for (int ky = 0; ky < s.KernelH; ky++)
                {
                    int inRow = ((b * s.InChannels + c) * s.Height + y + ky) * s.Width + x;
                    int wRow = ((o * s.InChannels + c) * s.KernelH + ky) * s.KernelW;
                    for (int kx = 0; kx < s.KernelW; kx++)
                        acc += input[inRow + kx] * weight[wRow + kx];
                }
            output[i] = acc;
        }
    }

    /// <summary>dInput[b,c,iy,ix] = sum over o, ky, kx of dOutput[b,o,iy-ky,ix-kx] * weight[o,c,ky,kx].</summary>
    public static void BackwardInput(Index1D thread, int threads, ConvShape s,
        ArrayView<float> dOutput, ArrayView<float> weight, ArrayView<float> dInput)
    {
        int oh = s.OutH, ow = s.OutW;
        for (int i = thread; i < s.InputSize; i += threads)
        {
            int ix = i % s.Width, r = i / s.Width;
            int iy = r % s.Height; r /= s.Height;
            int c = r % s.InChannels, b = r / s.InChannels;
            // Only kernel taps that land inside the output contribute.
            int kyLo = Math.Max(0, iy - oh + 1), kyHi = Math.Min(s.KernelH - 1, iy);
            int kxLo = Math.Max(0, ix - ow + 1), kxHi = Math.Min(s.KernelW - 1, ix);
            float acc = 0f;
            for (int o = 0; o < s.OutChannels; o++)
                for (int ky = kyLo; ky <= kyHi; ky++)
                {
                    int dRow = ((b * s.OutChannels + o) * oh + iy - ky) * ow + ix;
                    int wRow = ((o * s.InChannels + c) * s.KernelH + ky) * s.KernelW;
                    for (int kx = kxLo; kx <= kxHi; kx++)
                        acc += dOutput[dRow - kx] * weight[wRow + kx];
                }
            dInput[i] = acc;
        }
    }

    /// <summary>dWeight[o,c,ky,kx] = sum over b, y, x of dOutput[b,o,y,x] * input[b,c,y+ky,x+kx].</summary>
    public static void BackwardWeight(Index1D thread, int threads, ConvShape s,
        ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight)
    {
        int oh = s.OutH, ow = s.OutW;
        for (int i = thread; i < s.WeightSize; i += threads)
        {
            int kx = i % s.KernelW, r = i / s.KernelW;
            int ky = r % s.KernelH; r /= s.KernelH;
            int c = r % s.InChannels, o = r / s.InChannels;
            float acc = 0f;
            for (int b = 0; b < s.Batch; b++)
                for (int y = 0; y < oh; y++)
                {
                    int dRow = ((b * s.OutChannels + o) * oh + y) * ow;
                    int inRow = ((b * s.InChannels + c) * s.Height + y + ky) * s.Width + kx;
                    for (int x = 0; x < ow; x++)
                        acc += dOutput[dRow + x] * input[inRow + x];
                }
            dWeight[i] = acc;
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

/// <summary>Launches the convolution kernels on one accelerator (compiled once, in the constructor).</summary>
public sealed class Conv2d
{
    private readonly LaunchPolicy policy;
    private readonly Action<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardInput, backwardWeight;
    private readonly Action<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>> backwardBias;

    public Conv2d(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        forward = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.Forward);
        backwardInput = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.BackwardInput);
        backwardWeight = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Conv2dKernels.BackwardWeight);
        backwardBias = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, ConvShape, ArrayView<float>, ArrayView<float>>(Conv2dKernels.BackwardBias);
    }

    public void Forward(ConvShape s, ArrayView<float> input, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> output)
    {
        int t = policy.Threads(s.OutputSize);
        forward(t, t, s, input, weight, bias, output);
    }

    public void BackwardInput(ConvShape s, ArrayView<float> dOutput, ArrayView<float> weight, ArrayView<float> dInput)
    {
        int t = policy.Threads(s.InputSize);
        backwardInput(t, t, s, dOutput, weight, dInput);
    }

    public void BackwardWeight(ConvShape s, ArrayView<float> dOutput, ArrayView<float> input, ArrayView<float> dWeight)
    {
        int t = policy.Threads(s.WeightSize);
        backwardWeight(t, t, s, dOutput, input, dWeight);
    }

    public void BackwardBias(ConvShape s, ArrayView<float> dOutput, ArrayView<float> dBias)
    {
        int t = policy.Threads(s.OutChannels);
        backwardBias(t, t, s, dOutput, dBias);
    }
}
