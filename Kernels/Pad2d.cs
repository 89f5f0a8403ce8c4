using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// Zero padding of every plane by Pad rows and columns on each side (a "same" 3x3 convolution is
// this, then a valid one). The backward pass is the crop: the border's gradient goes nowhere.
// Shapes: P = B*C planes, H x W input, (H + 2*Pad) x (W + 2*Pad) output.
// Layouts: input [P,H,W], output [P,H+2Pad,W+2Pad].

/// <summary>Shape of a zero padding.</summary>
public readonly record struct PadShape(int Batch, int Channels, int Height, int Width, int Pad)
{
    public int OutH => Height + 2 * Pad;
    public int OutW => Width + 2 * Pad;
    public int InputSize => Batch * Channels * Height * Width;
    public int OutputSize => Batch * Channels * OutH * OutW;
    public override string ToString() => $"B{Batch} C{Channels} {Height}x{Width} pad{Pad}";
}

public static class Pad2dKernels
{
    /// <summary>One work-item per output row: the border rows are zeros, the others a zero, a copied run, a zero.</summary>
    public static void Forward(Index1D thread, int threads, PadShape s, ArrayView<float> input, ArrayView<float> output)
    {
        int oh = s.OutH, ow = s.OutW, rows = s.Batch * s.Channels * oh;
        for (int row = thread; row < rows; row += threads)
        {
            int plane = row / oh, y = row - plane * oh - s.Pad, at = row * ow;
            if (y < 0 || y >= s.Height)
            {
                for (int x = 0; x < ow; x++) output[at + x] = 0f;
                continue;
            }
            int from = (plane * s.Height + y) * s.Width - s.Pad;
            for (int x = 0; x < s.Pad; x++) output[at + x] = 0f;
            for (int x = s.Pad; x < s.Pad + s.Width; x++) output[at + x] = input[from + x];
            for (int x = s.Pad + s.Width; x < ow; x++) output[at + x] = 0f;
        }
    }

    /// <summary>dInput = dOutput without its border, one work-item per input row.</summary>
    public static void Backward(Index1D thread, int threads, PadShape s, ArrayView<float> dOutput, ArrayView<float> dInput)
    {
        int ow = s.OutW, rows = s.Batch * s.Channels * s.Height;
        for (int row = thread; row < rows; row += threads)
        {
            int plane = row / s.Height, y = row - plane * s.Height;
            int from = (plane * s.OutH + y + s.Pad) * ow + s.Pad, at = row * s.Width;
            for (int x = 0; x < s.Width; x++) dInput[at + x] = dOutput[from + x];
        }
    }
}

/// <summary>Launches the padding kernels on one accelerator.</summary>
public sealed class Pad2d
{
    private readonly LaunchPolicy policy;
    private readonly Action<Index1D, int, PadShape, ArrayView<float>, ArrayView<float>> forward, backward;

    public Pad2d(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        forward = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, PadShape, ArrayView<float>, ArrayView<float>>(Pad2dKernels.Forward, policy.GroupSize);
        backward = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, PadShape, ArrayView<float>, ArrayView<float>>(Pad2dKernels.Backward, policy.GroupSize);
    }

    public void Forward(PadShape s, ArrayView<float> input, ArrayView<float> output)
    {
        int t = policy.Threads((long)s.Batch * s.Channels * s.OutH);
        forward(t, t, s, input, output);
    }

    public void Backward(PadShape s, ArrayView<float> dOutput, ArrayView<float> dInput)
    {
        int t = policy.Threads((long)s.Batch * s.Channels * s.Height);
        backward(t, t, s, dOutput, dInput);
    }
}
