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

/// <summary>
/// The dense kernels that are not GEMMs. The GEMM-shaped passes run on the convolution kernels:
/// a dense layer is a 1x1 convolution of 1x1 images (batch B, I input channels, O output channels),
/// so it gets the same register blocking, variants and edge handling.
/// </summary>
public static class DenseKernels
{
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
    private readonly Conv2d conv;
    private readonly Action<Index1D, int, DenseShape, ArrayView<float>, ArrayView<float>> backwardBias;

    /// <param name="conv">The convolution whose GEMM kernels (and scratch buffers) the dense passes share.</param>
    public Dense(Accelerator accelerator, LaunchPolicy policy, Conv2d conv)
    {
        this.policy = policy;
        this.conv = conv;
        backwardBias = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, DenseShape, ArrayView<float>, ArrayView<float>>(DenseKernels.BackwardBias, policy.GroupSize);
    }

    /// <summary>The layer as a convolution: x [B,I] is B images of I channels, 1x1 pixels; weight [O,I] is [O,I,1,1].</summary>
    private static ConvShape AsConv(DenseShape s) => new(s.Batch, s.Inputs, s.Outputs, 1, 1, 1, 1);

    /// <summary>y[b,o] = bias[o] + sum over i of x[b,i] * weight[o,i].</summary>
    public void Forward(DenseShape s, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y) =>
        conv.RunTaps(ConvTaps.Forward(AsConv(s)), Epilogue.Bias, x, weight, bias, y);

    /// <summary>y = ReLU(x W^T + b) in one pass: <see cref="Forward"/> then <see cref="Relu.Forward"/>, fused.</summary>
    public void ForwardRelu(DenseShape s, ArrayView<float> x, ArrayView<float> weight, ArrayView<float> bias, ArrayView<float> y) =>
        conv.RunTaps(ConvTaps.Forward(AsConv(s)), Epilogue.BiasRelu, x, weight, bias, y);

    /// <summary>dx[b,i] = sum over o of dy[b,o] * weight[o,i]: a 1x1 convolution of dy (O channels) whose weight (i, o) is weight[o,i].</summary>
    public void BackwardInput(DenseShape s, ArrayView<float> dy, ArrayView<float> weight, ArrayView<float> dx) =>
        conv.RunTaps(new ConvTaps(new ConvShape(s.Batch, s.Outputs, s.Inputs, 1, 1, 1, 1), 0, 1, s.Inputs, 0, 0), Epilogue.None, dy, weight, weight, dx);

    /// <summary>dWeight[o,i] = sum over b of dy[b,o] * x[b,i].</summary>
    public void BackwardWeight(DenseShape s, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> dWeight) =>
        conv.BackwardWeight(AsConv(s), dy, x, dWeight);

    /// <summary><see cref="BackwardWeight"/> and <see cref="BackwardBias"/> together (one pass in the register variant; the same sums).</summary>
    public void BackwardWeightAndBias(DenseShape s, ArrayView<float> dy, ArrayView<float> x, ArrayView<float> dWeight, ArrayView<float> dBias) =>
        conv.BackwardWeightAndBias(AsConv(s), dy, x, dWeight, dBias);

    public void BackwardBias(DenseShape s, ArrayView<float> dy, ArrayView<float> dBias)
    {
        int t = policy.Threads(s.Outputs);
        backwardBias(t, t, s, dy, dBias);
    }
}
