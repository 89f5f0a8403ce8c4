using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// Max pooling, 2x2 window, stride 2; odd sizes floor (the last row/column is dropped, as in Keras).
// Shapes: P = B*C planes, H x W input, OH = H/2, OW = W/2, or fewer: only the top-left
//         OutHeight x OutWidth windows when nothing reads the others (Model trims them).
// Layouts: input [P,H,W], output [P,OH,OW]. Input the windows skip gets a zero gradient.

/// <summary>Shape of a 2x2 max pooling; <paramref name="OutHeight"/> and <paramref name="OutWidth"/> (when above 0) keep only the top-left windows.</summary>
public readonly record struct PoolShape(int Batch, int Channels, int Height, int Width, int OutHeight = 0, int OutWidth = 0)
{
    public int OutH => OutHeight > 0 ? Math.Min(OutHeight, Height / 2) : Height / 2;
    public int OutW => OutWidth > 0 ? Math.Min(OutWidth, Width / 2) : Width / 2;
    public int Planes => Batch * Channels;
    public int InputSize => Planes * Height * Width;
    public int OutputSize => Planes * OutH * OutW;
    public override string ToString() => $"B{Batch} C{Channels} {Height}x{Width}" + (OutH != Height / 2 || OutW != Width / 2 ? $" -> {OutH}x{OutW}" : "");
}

/// <summary>
/// Pooling kernels. The backward pass routes each output gradient to the element that won
/// the max (the first in row-major order on ties), found again from the input, so no index
/// buffer and no atomics are needed: each input element's thread owns its own gradient.
/// </summary>
public static class MaxPool2dKernels
{
    /// <summary>One work-item per output row (its index decoded once: per element, four divisions were most of the pass).</summary>
    public static void Forward(Index1D thread, int threads, PoolShape s, ArrayView<float> input, ArrayView<float> output)
    {
        int oh = s.OutH, ow = s.OutW;
        for (int row = thread; row < s.Planes * oh; row += threads)
        {
            int p = row / oh, y = row - p * oh;
            int top = (p * s.Height + 2 * y) * s.Width, at = row * ow;
            for (int x = 0; x < ow; x++, top += 2)
            {
                float a = input[top], b = input[top + 1], c = input[top + s.Width], d = input[top + s.Width + 1];
                output[at + x] = Math.Max(Math.Max(a, b), Math.Max(c, d));
            }
        }
    }

    /// <summary>dInput from dOutput, routing each window's gradient to its winner.</summary>
    public static void Backward(Index1D thread, int threads, PoolShape s, ArrayView<float> input, ArrayView<float> dOutput, ArrayView<float> dInput) =>
        BackwardCells(thread, threads, s, 0, input, dOutput, dInput);

    /// <summary>
    /// The backward pass of ReLU then pooling in one: <paramref name="reluOutput"/> is ReLU's output
    /// (the pool's input), and a window's gradient goes to its winner only if the winner is &gt; 0,
    /// which is what <see cref="Backward"/> followed by <see cref="ReluKernels.Backward"/> gives,
    /// without the second pass over the whole activation.
    /// </summary>
    public static void BackwardRelu(Index1D thread, int threads, PoolShape s, ArrayView<float> reluOutput, ArrayView<float> dOutput, ArrayView<float> dInput) =>
        BackwardCells(thread, threads, s, 1, reluOutput, dOutput, dInput);

    /// <summary>
    /// Each 2 x 2 cell of the input (ceil(H/2) x ceil(W/2) cells per plane; a work-item takes a row of them) writes
    /// all of its cell's gradients: the winner gets the window's gradient, the others 0. Cells in
    /// the last row or column of an odd size, or beyond the windows kept, belong to no window and get 0. Every input element is
    /// in exactly one cell, so each is written once, by one thread. (One thread per input element
    /// would find each window's winner four times and divide four times as often.)
    /// </summary>
    private static void BackwardCells(Index1D thread, int threads, PoolShape s, int positiveOnly,
        ArrayView<float> input, ArrayView<float> dOutput, ArrayView<float> dInput)
    {
        int oh = s.OutH, ow = s.OutW, w = s.Width, ch = (s.Height + 1) / 2, cw = (w + 1) / 2;
        // One work-item per row of cells, its index decoded once.
        for (int row = thread; row < s.Planes * ch; row += threads)
        {
            int p = row / ch, y = row - p * ch;
            int top = (p * s.Height + 2 * y) * w;
            bool below = 2 * y + 1 < s.Height;
            for (int x = 0; x < cw; x++, top += 2)
            {
                if (y < oh && x < ow)
                {
                    float a = input[top], b = input[top + 1], c = input[top + w], d = input[top + w + 1];
                    int winner = WinnerOffset(a, b, c, d);
                    float g = dOutput[(p * oh + y) * ow + x];
                    if (positiveOnly != 0 && !(Math.Max(Math.Max(a, b), Math.Max(c, d)) > 0f)) g = 0f;
                    dInput[top] = winner == 0 ? g : 0f;
                    dInput[top + 1] = winner == 1 ? g : 0f;
                    dInput[top + w] = winner == 2 ? g : 0f;
                    dInput[top + w + 1] = winner == 3 ? g : 0f;
                }
                else
                {
                    bool right = 2 * x + 1 < w;
                    dInput[top] = 0f;
                    if (right) dInput[top + 1] = 0f;
                    if (below) dInput[top + w] = 0f;
                    if (right && below) dInput[top + w + 1] = 0f;
                }
            }
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
    private readonly Action<Index1D, int, PoolShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> backward, backwardRelu;

    public MaxPool2d(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        forward = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, PoolShape, ArrayView<float>, ArrayView<float>>(MaxPool2dKernels.Forward, policy.GroupSize);
        backward = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, PoolShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MaxPool2dKernels.Backward, policy.GroupSize);
        backwardRelu = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, PoolShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MaxPool2dKernels.BackwardRelu, policy.GroupSize);
    }

    public void Forward(PoolShape s, ArrayView<float> input, ArrayView<float> output)
    {
        int t = policy.Threads((long)s.Planes * s.OutH);
        forward(t, t, s, input, output);
    }

    /// <summary>dInput from dOutput; needs the forward input to find each window's winner.</summary>
    public void Backward(PoolShape s, ArrayView<float> input, ArrayView<float> dOutput, ArrayView<float> dInput)
    {
        int t = policy.Threads(Cells(s));
        backward(t, t, s, input, dOutput, dInput);
    }

    /// <summary>
    /// The backward pass of ReLU followed by this pooling, in one kernel: <paramref name="reluOutput"/>
    /// is ReLU's output (this pooling's input). Same result as <see cref="Backward"/> then <see cref="Relu.Backward"/>.
    /// </summary>
    public void BackwardRelu(PoolShape s, ArrayView<float> reluOutput, ArrayView<float> dOutput, ArrayView<float> dInput)
    {
        int t = policy.Threads(Cells(s));
        backwardRelu(t, t, s, reluOutput, dOutput, dInput);
    }

    /// <summary>Rows of 2 x 2 cells of the input, the backward kernels' work items.</summary>
    private static long Cells(PoolShape s) => (long)s.Planes * ((s.Height + 1) / 2);
}
