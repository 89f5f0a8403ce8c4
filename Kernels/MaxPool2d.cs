using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// Max pooling, 2x2 window, stride 2; odd sizes floor (the last row/column is dropped, as in Keras).
// Shapes: P = B*C planes, H x W input, OH = H/2, OW = W/2.
// Layouts: input [P,H,W], output [P,OH,OW].

/// <summary>Shape of a 2x2 max pooling.</summary>
public readonly record struct PoolShape(int Batch, int Channels, int Height, int Width)
{
    public int OutH => Height / 2;
    public int OutW => Width / 2;
    public int Planes => Batch * Channels;
    public int InputSize => Planes * Height * Width;
    public int OutputSize => Planes * OutH * OutW;
    public override string ToString() => $"B{Batch} C{Channels} {Height}x{Width}";
}

/// <summary>
/// Pooling kernels. The backward pass routes each output gradient to the element that won
/// the max (the first in row-major order on ties), found again from the input, so no index
/// buffer and no atomics are needed: each input element's thread owns its own gradient.
/// </summary>
public static class MaxPool2dKernels
{
    public static void Forward(Index1D thread, int threads, PoolShape s, ArrayView<float> input, ArrayView<float> output)
    {
        int oh = s.OutH, ow = s.OutW;
        for (int i = thread; i < s.OutputSize; i += threads)
        {
            int x = i % ow, r = i / ow;
            int y = r % oh, p = r / oh;
            int top = (p * s.Height + 2 * y) * s.Width + 2 * x;
            float a = input[top], b = input[top + 1], c = input[top + s.Width], d = input[top + s.Width + 1];
            output[i] = Math.Max(Math.Max(a, b), Math.Max(c, d));
        }
    }

    public static void Backward(Index1D thread, int threads, PoolShape s, ArrayView<float> input, ArrayView<float> dOutput, ArrayView<float> dInput)
    {
        int oh = s.OutH, ow = s.OutW;
        for (int i = thread; i < s.InputSize; i += threads)
        {
            int ix = i % s.Width, r = i / s.Width;
            int iy = r % s.Height, p = r / s.Height;
            int y = iy / 2, x = ix / 2;
            float grad = 0f;
            if (y < oh && x < ow)
            {
                int top = (p * s.Height + 2 * y) * s.Width + 2 * x;
                int winner = WinnerOffset(input[top], input[top + 1], input[top + s.Width], input[top + s.Width + 1]);
                int mine = (iy - 2 * y) * 2 + (ix - 2 * x);
                if (winner == mine) grad = dOutput[(p * oh + y) * ow + x];
            }
            dInput[i] = grad;
        }
    }

    /// <summary>Which of the window's four elements (row-major) holds the max; the first one on ties.</summary>
    public static int WinnerOffset(float a, float b, float c, float d)
    {
        int best = 0;
        float max = a;
        if (b > max) { best = 1; max = b; }
        if (c > max) { best = 2; max = c; }
        if (d > max) { best = 3; }
        return best;
    }
}

/// <summary>Launches the pooling kernels on one accelerator.</summary>
public sealed class MaxPool2d
{
    private readonly LaunchPolicy policy;
    private readonly Action<Index1D, int, PoolShape, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<Index1D, int, PoolShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> backward;

    public MaxPool2d(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        forward = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, PoolShape, ArrayView<float>, ArrayView<float>>(MaxPool2dKernels.Forward);
        backward = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, PoolShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MaxPool2dKernels.Backward);
    }

    public void Forward(PoolShape s, ArrayView<float> input, ArrayView<float> output)
    {
        int t = policy.Threads(s.OutputSize);
        forward(t, t, s, input, output);
    }

    /// <summary>dInput from dOutput; needs the forward input to find each window's winner.</summary>
    public void Backward(PoolShape s, ArrayView<float> input, ArrayView<float> dOutput, ArrayView<float> dInput)
    {
        int t = policy.Threads(s.InputSize);
        backward(t, t, s, input, dOutput, dInput);
    }
}
