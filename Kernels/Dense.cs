using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// Fully connected layer: y = x W^T + b.
// Shapes: B batch, I input features, O output features.
// Layouts: x [B,I], weight [O,I] (PyTorch's nn.Linear), bias [O], y [B,O].

/// <summary>Shape of a dense layer.</summary>
public readonly record struct DenseShape(int Batch, int Inputs, int Outputs)
{
    public int InputSize => Batch * Inputs;
    public int WeightSize => Outputs * Inputs;
    public int OutputSize => Batch * Outputs;
    public long MultiplyAdds => (long)Batch * Inputs * Outputs;
    public override string ToString() => $"B{Batch} I{Inputs} O{Outputs}";
}

public static class DenseKernels
{
    public static void Forward(Index1D thread, int threads, DenseShape s,
        ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y)
    {
        for (int i = thread; i < s.OutputSize; i += threads)
        {
            int o = i % s.Outputs, b = i / s.Outputs;
            int xRow = b * s.Inputs, wRow = o * s.Inputs;
            float acc = bias[o];
            for (int k = 0; k < s.Inputs; k++) acc += x[xRow + k] * weight[wRow + k];
            y[i] = acc;
        }
    }

    /// <summary>dx[b,i] = sum over o of dy[b,o] * weight[o,i].</summary>
    public static void BackwardInput(Index1D thread, int threads, DenseShape s,
        ArrayView<float> dy, ArrayView<float> weight, ArrayView<float> dx)
    {
        for (int i = thread; i < s.InputSize; i += threads)
        {
            int k = i % s.Inputs, b = i / s.Inputs;
            float acc = 0f;
            for (int o = 0; o < s.Outputs; o++) acc += dy[b * s.Outputs + o] * weight[o * s.Inputs + k];
            dx[i] = acc;
        }
    }

    /// <summary>dWeight[o,i] = sum over b of dy[b,o] * x[b,i].</summary>
    public static void BackwardWeight(Index1D thread, int threads, DenseShape s,
        ArrayView<float> dy, ArrayView<float> x, ArrayView<float> dWeight)
    {
        for (int i = thread; i < s.WeightSize; i += threads)
        {
            int k = i % s.Inputs, o = i / s.Inputs;
            float acc = 0f;
            for (int b = 0; b < s.Batch; b++) acc += dy[b * s.Outputs + o] * x[b * s.Inputs + k];
            dWeight[i] = acc;
        }
    }

    /// <summary>dBias[o] = sum over b of dy[b,o].</summary>
    public static void BackwardBias(Index1D thread, int threads, DenseShape s, ArrayView<float> dy, ArrayView<float> dBias)
    {
        for (int o = thread; o < s.Outputs; o += threads)
        {
            float acc = 0f;
            for (int b = 0; b < s.Batch; b++) acc += dy[b * s.Outputs + o];
            dBias[o] = acc;
        }
    }
}

/// <summary>Launches the dense kernels on one accelerator.</summary>
public sealed class Dense
{
    private readonly LaunchPolicy policy;
    private readonly Action<Index1D, int, DenseShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<Index1D, int, DenseShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardInput, backwardWeight;
    private readonly Action<Index1D, int, DenseShape, ArrayView<float>, ArrayView<float>> backwardBias;

    public Dense(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        forward = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, DenseShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DenseKernels.Forward);
        backwardInput = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, DenseShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DenseKernels.BackwardInput);
        backwardWeight = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, DenseShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DenseKernels.BackwardWeight);
        backwardBias = accelerator.LoadAutoGroupedStreamKernel<Index1D, int, DenseShape, ArrayView<float>, ArrayView<float>>(DenseKernels.BackwardBias);
    }

    public void Forward(DenseShape s, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y)
    {
        int t = policy.Threads(s.OutputSize);
        forward(t, t, s, x, weight, bias, y);
    }

    public void BackwardInput(DenseShape s, ArrayView<float> dy, ArrayView<float> weight, ArrayView<float> dx)
    {
        int t = policy.Threads(s.InputSize);
        backwardInput(t, t, s, dy, weight, dx);
    }

    public void BackwardWeight(DenseShape s, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> dWeight)
    {
        int t = policy.Threads(s.WeightSize);
        backwardWeight(t, t, s, dy, x, dWeight);
    }

    public void BackwardBias(DenseShape s, ArrayView<float> dy, ArrayView<float> dBias)
    {
        int t = policy.Threads(s.Outputs);
        backwardBias(t, t, s, dy, dBias);
    }
}
