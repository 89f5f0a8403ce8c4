using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// Softmax followed by sparse categorical cross-entropy, fused.
// Shapes: B batch, K classes. Layouts: logits [B,K], labels [B] (class index), loss [B],
// correct [B] (1 when the argmax equals the label, else 0), dLogits [B,K].
// loss_b = logsumexp(z_b) - z_b[label_b], computed with the row max subtracted so exp
// never overflows; the gradient of the batch mean loss is (softmax(z_b) - onehot_b) / B.

/// <summary>Shape of the loss: batch and classes.</summary>
public readonly record struct LossShape(int Batch, int Classes)
{
    public override string ToString() => $"B{Batch} K{Classes}";
}

public static class SoftmaxCrossEntropyKernels
{
    /// <summary>One thread per sample. dLogits may be skipped (evaluation) by passing computeGradient = 0.</summary>
    public static void ForwardBackward(Index1D thread, int threads, LossShape s, int computeGradient,
        ArrayView<float> logits, ArrayView<int> labels, ArrayView<float> loss, ArrayView<float> correct, ArrayView<float> dLogits)
    {
        for (int b = thread; b < s.Batch; b += threads)
        {
            int row = b * s.Classes;
            float max = logits[row];
            int argmax = 0;
            for (int k = 1; k < s.Classes; k++)
            {
                float z = logits[row + k];
                if (z > max) { max = z; argmax = k; }
            }
            float sum = 0f;
            for (int k = 0; k < s.Classes; k++) sum += MathF.Exp(logits[row + k] - max);
            int label = labels[b];
            loss[b] = MathF.Log(sum) + max - logits[row + label];
            correct[b] = argmax == label ? 1f : 0f;
            if (computeGradient != 0)
            {
                float invSumB = 1f / (sum * s.Batch), invB = 1f / s.Batch;
                for (int k = 0; k < s.Classes; k++)
                    dLogits[row + k] = MathF.Exp(logits[row + k] - max) * invSumB - (k == label ? invB : 0f);
            }
        }
    }

    /// <summary>
    /// Sums a batch's losses and correct flags into totals[2*slot] and totals[2*slot+1]; one
    /// thread, a fixed order, so the result is the same on every run and backend. Each step
    /// writes its own slot, so a whole epoch needs one copy back and no synchronisation per step.
    /// </summary>
    public static void SumBatch(Index1D thread, int batch, int slot, ArrayView<float> loss, ArrayView<float> correct, ArrayView<float> totals)
    {
        if (thread != 0) return;
        float l = 0f, c = 0f;
        for (int b = 0; b < batch; b++) { l += loss[b]; c += correct[b]; }
        totals[2 * slot] = l;
        totals[2 * slot + 1] = c;
    }
}

/// <summary>Launches the loss kernels on one accelerator.</summary>
public sealed class SoftmaxCrossEntropy
{
    private readonly LaunchPolicy policy;
    private readonly Action<Index1D, int, LossShape, int, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>> forwardBackward;
    private readonly Action<Index1D, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>> sumBatch;

    public SoftmaxCrossEntropy(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        forwardBackward = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, LossShape, int, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SoftmaxCrossEntropyKernels.ForwardBackward, policy.GroupSize);
        sumBatch = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(SoftmaxCrossEntropyKernels.SumBatch, policy.GroupSize);
    }

    /// <summary>Per-sample loss and correctness, and the gradient of the mean loss.</summary>
    public void ForwardBackward(LossShape s, ArrayView<float> logits, ArrayView<int> labels, ArrayView<float> loss, ArrayView<float> correct, ArrayView<float> dLogits)
    {
        int t = policy.Threads(s.Batch);
        forwardBackward(t, t, s, 1, logits, labels, loss, correct, dLogits);
    }

    /// <summary>Per-sample loss and correctness only (evaluation).</summary>
    public void Forward(LossShape s, ArrayView<float> logits, ArrayView<int> labels, ArrayView<float> loss, ArrayView<float> correct)
    {
        int t = policy.Threads(s.Batch);
        forwardBackward(t, t, s, 0, logits, labels, loss, correct, logits);
    }

    public void SumBatch(int batch, int slot, ArrayView<float> loss, ArrayView<float> correct, ArrayView<float> totals) =>
        sumBatch(1, batch, slot, loss, correct, totals);
}
