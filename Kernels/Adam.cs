using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// Adam over N parameters, as Keras implements it:
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   p -= alpha m / (sqrt(v) + epsilon),  alpha = lr sqrt(1 - beta2^t) / (1 - beta1^t)
// The bias correction is folded into alpha, computed on the host for step t (1-based).
// Decoupled weight decay (AdamW, PyTorch's order): before the update, p *= 1 - lr * decay for
// the tensors it applies to (Scale).

/// <summary>Adam's hyper-parameters.</summary>
public readonly record struct AdamSettings(float LearningRate = 1e-3f, float Beta1 = 0.9f, float Beta2 = 0.999f, float Epsilon = 1e-7f)
{
    public AdamSettings() : this(1e-3f) { }

    /// <summary>The values for step <paramref name="t"/> (1-based), bias correction included.</summary>
    public AdamStep ForStep(long t) => new(
        (float)(LearningRate * Math.Sqrt(1 - Math.Pow(Beta2, t)) / (1 - Math.Pow(Beta1, t))), Beta1, Beta2, Epsilon);
}

/// <summary>The per-step scalars the kernel needs.</summary>
public readonly record struct AdamStep(float Alpha, float Beta1, float Beta2, float Epsilon);

public static class AdamKernels
{
    public static void Update(Index1D thread, int threads, int n, AdamStep a,
        ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> m, ArrayView<float> v)
    {
        for (int i = thread; i < n; i += threads)
        {
            float g = gradients[i];
            float mi = a.Beta1 * m[i] + (1f - a.Beta1) * g;
            float vi = a.Beta2 * v[i] + (1f - a.Beta2) * g * g;
            m[i] = mi;
            v[i] = vi;
            parameters[i] -= a.Alpha * mi / (MathF.Sqrt(vi) + a.Epsilon);
        }
    }

    /// <summary>values *= factor (weight decay's shrink).</summary>
    public static void Scale(Index1D thread, int threads, int n, float factor, ArrayView<float> values)
    {
        for (int i = thread; i < n; i += threads) values[i] *= factor;
    }
}

/// <summary>Launches the Adam kernel on one accelerator.</summary>
public sealed class Adam
{
    private readonly LaunchPolicy policy;
    private readonly Action<Index1D, int, int, AdamStep, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> update;
    private readonly Action<Index1D, int, int, float, ArrayView<float>> scale;

    public Adam(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        update = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, AdamStep, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(AdamKernels.Update, policy.GroupSize);
        scale = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, float, ArrayView<float>>(AdamKernels.Scale, policy.GroupSize);
    }

    public void Update(int n, AdamStep step, ArrayView<float> parameters, ArrayView<float> gradients, ArrayView<float> m, ArrayView<float> v)
    {
        int t = policy.Threads(n);
        update(t, t, n, step, parameters, gradients, m, v);
    }

    public void Scale(int n, float factor, ArrayView<float> values)
    {
        int t = policy.Threads(n);
        scale(t, t, n, factor, values);
    }
}
