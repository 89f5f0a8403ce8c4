using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// ReLU, element-wise over N values: y = max(x, 0); dx = dy where x > 0, else 0.

public static class ReluKernels
{
    public static void Forward(Index1D thread, int threads, int n, ArrayView<float> input, ArrayView<float> output)
    {
        for (int i = thread; i < n; i += threads)
            output[i] = Math.Max(input[i], 0f);
    }

    /// <summary>Works from either the input or the output of the forward pass: both are > 0 at the same places.</summary>
    public static void Backward(Index1D thread, int threads, int n, ArrayView<float> forwardValue, ArrayView<float> dOutput, ArrayView<float> dInput)
    {
        for (int i = thread; i < n; i += threads)
        {
            // Load unconditionally, then select: a load inside the condition becomes a branch
            // that PoCL cannot vectorise across work-items (measured 4-10x slower there).
            float g = dOutput[i];
            dInput[i] = forwardValue[i] > 0f ? g : 0f;
        }
    }
}

/// <summary>Launches the ReLU kernels on one accelerator.</summary>
public sealed class Relu
{
    private readonly LaunchPolicy policy;
    private readonly Action<Index1D, int, int, ArrayView<float>, ArrayView<float>> forward;
    private readonly Action<Index1D, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>> backward;

    public Relu(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        forward = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, ArrayView<float>, ArrayView<float>>(ReluKernels.Forward, policy.GroupSize);
        backward = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ReluKernels.Backward, policy.GroupSize);
    }

    /// <summary>In place is allowed (input and output the same view).</summary>
    public void Forward(int n, ArrayView<float> input, ArrayView<float> output)
    {
        int t = policy.Threads(n);
        forward(t, t, n, input, output);
    }

    /// <summary>In place is allowed (dOutput and dInput the same view).</summary>
    public void Backward(int n, ArrayView<float> forwardValue, ArrayView<float> dOutput, ArrayView<float> dInput)
    {
        int t = policy.Threads(n);
        backward(t, t, n, forwardValue, dOutput, dInput);
    }
}
