using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// Inverted dropout over N values with drop probability p: kept values are scaled by 1/(1-p),
// so nothing changes at inference. The mask is not stored: element i at training step t is
// kept when CounterHash.Uniform(seed, t, i) >= p, computed in the kernel, so the same seed
// gives the same mask on every backend and the backward pass recomputes it.

/// <summary>A counter-based hash: a pure function of (seed, step, index), identical on every backend.</summary>
public static class CounterHash
{
    /// <summary>A 32-bit integer finalizer with good avalanche (the "lowbias32" mix).</summary>
    public static uint Mix(uint x)
    {
        x ^= x >> 16;
        x *= 0x7FEB352Du;
        x ^= x >> 15;
        x *= 0x846CA68Bu;
        x ^= x >> 16;
        return x;
    }

    public static uint Hash(uint seed, uint step, uint index) => Mix(Mix(Mix(seed) ^ step) ^ index);

    /// <summary>A float in [0, 1) with 24 random bits.</summary>
    public static float Uniform(uint seed, uint step, uint index) => (Hash(seed, step, index) >> 8) * (1f / 16777216f);

    /// <summary>Whether element <paramref name="index"/> survives dropout with probability <paramref name="p"/>.</summary>
    public static bool Keep(uint seed, uint step, uint index, float p) => Uniform(seed, step, index) >= p;
}

/// <summary>Which mask to use: the seed (one per dropout layer), the training step and the drop probability.</summary>
public readonly record struct DropoutMask(uint Seed, uint Step, float P)
{
    public float Scale => 1f / (1f - P);
}

public static class DropoutKernels
{
    public static void Forward(Index1D thread, int threads, int n, DropoutMask mask, ArrayView<float> input, ArrayView<float> output)
    {
        float scale = mask.Scale;
        for (int i = thread; i < n; i += threads)
        {
            // Load unconditionally, then select (a conditional load is a branch PoCL cannot vectorise).
            float v = input[i] * scale;
            output[i] = CounterHash.Keep(mask.Seed, mask.Step, (uint)i, mask.P) ? v : 0f;
        }
    }

    /// <summary>The same mask applied to the gradient (the derivative of the forward pass).</summary>
    public static void Backward(Index1D thread, int threads, int n, DropoutMask mask, ArrayView<float> dOutput, ArrayView<float> dInput)
    {
        float scale = mask.Scale;
        for (int i = thread; i < n; i += threads)
        {
            float g = dOutput[i] * scale;
            dInput[i] = CounterHash.Keep(mask.Seed, mask.Step, (uint)i, mask.P) ? g : 0f;
        }
    }
}

/// <summary>Launches the dropout kernels on one accelerator.</summary>
public sealed class Dropout
{
    private readonly LaunchPolicy policy;
    private readonly Action<Index1D, int, int, DropoutMask, ArrayView<float>, ArrayView<float>> forward, backward;

    public Dropout(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        forward = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, DropoutMask, ArrayView<float>, ArrayView<float>>(DropoutKernels.Forward, policy.GroupSize);
        backward = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, DropoutMask, ArrayView<float>, ArrayView<float>>(DropoutKernels.Backward, policy.GroupSize);
    }

    /// <summary>In place is allowed.</summary>
    public void Forward(int n, DropoutMask mask, ArrayView<float> input, ArrayView<float> output)
    {
        int t = policy.Threads(n);
        forward(t, t, n, mask, input, output);
    }

    /// <summary>In place is allowed.</summary>
    public void Backward(int n, DropoutMask mask, ArrayView<float> dOutput, ArrayView<float> dInput)
    {
        int t = policy.Threads(n);
        backward(t, t, n, mask, dOutput, dInput);
    }
}
