using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels;

// Batch normalization over channels, PyTorch's BatchNorm1d/2d (momentum 0.1, epsilon 1e-5):
//   training:   mean, var = the batch's per-channel mean and biased variance over N = B * plane
//               values; y = (x - mean) / sqrt(var + eps) * gamma + beta;
//               running_mean = 0.9 running_mean + 0.1 mean, running_var = 0.9 running_var + 0.1 var * N/(N-1)
//   evaluation: the same with running_mean and running_var.
//   backward:   xhat = (x - mean) * invstd; dbeta = sum dy; dgamma = sum dy * xhat;
//               dx = gamma * invstd * (dy - dbeta / N - xhat * dgamma / N)
// Shapes: B batch, C channels, plane = H*W values per channel and sample (1 after a dense layer).
// Layouts: x, y [B,C,plane]; gamma, beta, running stats [C]; stats [2C] = mean then invstd of the last forward.
// Each channel's sums run in a fixed order (plane by plane, then over the batch): no atomics, deterministic.
// Scratch: 2*B*C floats of per-plane partial sums.

/// <summary>Shape of a batch normalization.</summary>
public readonly record struct BatchNormShape(int Batch, int Channels, int Plane)
{
    public int Size => Batch * Channels * Plane;
    /// <summary>Values per channel in a batch.</summary>
    public int Count => Batch * Plane;
    public override string ToString() => $"B{Batch} C{Channels} plane{Plane}";
}

public static class BatchNormKernels
{
    public const float Epsilon = 1e-5f, Momentum = 0.1f;

    // The per-channel sums run in two levels, in a fixed order: one work-item per (sample,
    // channel) plane sums its plane into partials[b*C + c]; then one work-item per channel adds
    // its B partials in sample order. B*C work-items share the first level, not C.

    /// <summary>partials[b*C + c] = sum over the plane of x[b,c,:].</summary>
    public static void PlaneSums(Index1D thread, int threads, BatchNormShape s, ArrayView<float> x, ArrayView<float> partials)
    {
        int planes = s.Batch * s.Channels, plane = s.Plane;
        for (int i = thread; i < planes; i += threads)
        {
            int at = i * plane;
            float part = 0f;
            for (int p = 0; p < plane; p++) part += x[at + p];
            partials[i] = part;
        }
    }

    /// <summary>partials[b*C + c] = sum over the plane of (x[b,c,:] - mean[c])^2 (two passes, not E[x^2] - mean^2, which cancels catastrophically).</summary>
    public static void PlaneSquares(Index1D thread, int threads, BatchNormShape s, ArrayView<float> x, ArrayView<float> stats, ArrayView<float> partials)
    {
        int planes = s.Batch * s.Channels, plane = s.Plane;
        for (int i = thread; i < planes; i += threads)
        {
            int at = i * plane;
            float mean = stats[i % s.Channels], part = 0f;
            for (int p = 0; p < plane; p++)
            {
                float d = x[at + p] - mean;
                part += d * d;
            }
            partials[i] = part;
        }
    }

    /// <summary>stats[c] = the batch mean of channel c.</summary>
    public static void ChannelMean(Index1D thread, int threads, BatchNormShape s, ArrayView<float> partials, ArrayView<float> stats)
    {
        for (int c = thread; c < s.Channels; c += threads)
        {
            float sum = 0f;
            for (int b = 0; b < s.Batch; b++) sum += partials[b * s.Channels + c];
            stats[c] = sum / s.Count;
        }
    }

    /// <summary>stats[C + c] = 1/sqrt(var + eps) from the squares' partials, and the running statistics updated (training).</summary>
    public static void ChannelVariance(Index1D thread, int threads, BatchNormShape s, ArrayView<float> partials, ArrayView<float> stats,
        ArrayView<float> runningMean, ArrayView<float> runningVar, ArrayView<float> batchesTracked)
    {
        int c = s.Channels;
        for (int ch = thread; ch < c; ch += threads)
        {
            float squares = 0f;
            for (int b = 0; b < s.Batch; b++) squares += partials[b * c + ch];
            float variance = squares / s.Count;
            stats[c + ch] = 1f / MathF.Sqrt(variance + Epsilon);
            // PyTorch keeps the unbiased variance; a single value per channel has none, so its own (0) is kept.
            float unbiased = s.Count > 1 ? squares / (s.Count - 1) : variance;
            runningMean[ch] = (1f - Momentum) * runningMean[ch] + Momentum * stats[ch];
            runningVar[ch] = (1f - Momentum) * runningVar[ch] + Momentum * unbiased;
            if (ch == 0) batchesTracked[0] += 1f;
        }
    }

    /// <summary>stats = the running mean and 1/sqrt(running_var + eps) (evaluation).</summary>
    public static void RunningStatistics(Index1D thread, int threads, int channels, ArrayView<float> runningMean, ArrayView<float> runningVar, ArrayView<float> stats)
    {
        for (int ch = thread; ch < channels; ch += threads)
        {
            stats[ch] = runningMean[ch];
            stats[channels + ch] = 1f / MathF.Sqrt(runningVar[ch] + Epsilon);
        }
    }

    /// <summary>
    /// y = (x - mean) * invstd * gamma + beta, then ReLU when <paramref name="relu"/> is 1. One
    /// work-item per plane: its channel is decoded once, not by an integer division per element
    /// (README, notes from tuning).
    /// </summary>
    public static void Normalize(Index1D thread, int threads, BatchNormShape s, int relu, ArrayView<float> x, ArrayView<float> stats,
        ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> y)
    {
        int c = s.Channels, plane = s.Plane, planes = s.Batch * c;
        for (int i = thread; i < planes; i += threads)
        {
            int ch = i % c, at = i * plane;
            float mean = stats[ch], invStd = stats[c + ch], g = gamma[ch], b = beta[ch];
            for (int p = at; p < at + plane; p++)
            {
                float v = (x[p] - mean) * invStd * g + b;
                y[p] = relu != 0 ? Math.Max(v, 0f) : v;
            }
        }
    }

    /// <summary>partials[b*C + c] = sum of dy and partials[B*C + b*C + c] = sum of dy * xhat over the plane.</summary>
    public static void PlaneGradients(Index1D thread, int threads, BatchNormShape s, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> stats, ArrayView<float> partials)
    {
        int planes = s.Batch * s.Channels, plane = s.Plane;
        for (int i = thread; i < planes; i += threads)
        {
            int at = i * plane, ch = i % s.Channels;
            float mean = stats[ch], invStd = stats[s.Channels + ch], partDy = 0f, partDyXhat = 0f;
            for (int p = 0; p < plane; p++)
            {
                float g = dy[at + p];
                partDy += g;
                partDyXhat += g * ((x[at + p] - mean) * invStd);
            }
            partials[i] = partDy;
            partials[planes + i] = partDyXhat;
        }
    }

    /// <summary>dgamma = sum dy * xhat and dbeta = sum dy per channel, from the planes' partials.</summary>
    public static void ChannelGradients(Index1D thread, int threads, BatchNormShape s, ArrayView<float> partials, ArrayView<float> dGamma, ArrayView<float> dBeta)
    {
        int planes = s.Batch * s.Channels;
        for (int c = thread; c < s.Channels; c += threads)
        {
            float sumDy = 0f, sumDyXhat = 0f;
            for (int b = 0; b < s.Batch; b++)
            {
                sumDy += partials[b * s.Channels + c];
                sumDyXhat += partials[planes + b * s.Channels + c];
            }
            dGamma[c] = sumDyXhat;
            dBeta[c] = sumDy;
        }
    }

    /// <summary>dx = gamma * invstd * (dy - dbeta / N - xhat * dgamma / N), one work-item per plane.</summary>
    public static void BackwardInput(Index1D thread, int threads, BatchNormShape s, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> stats,
        ArrayView<float> gamma, ArrayView<float> dGamma, ArrayView<float> dBeta, ArrayView<float> dx)
    {
        int c = s.Channels, plane = s.Plane, planes = s.Batch * c;
        float inverseCount = 1f / s.Count;
        for (int i = thread; i < planes; i += threads)
        {
            int ch = i % c, at = i * plane;
            float mean = stats[ch], invStd = stats[c + ch], scale = gamma[ch] * invStd;
            float meanDy = dBeta[ch] * inverseCount, meanDyXhat = dGamma[ch] * inverseCount;
            for (int p = at; p < at + plane; p++)
            {
                float xhat = (x[p] - mean) * invStd;
                dx[p] = scale * (dy[p] - meanDy - xhat * meanDyXhat);
            }
        }
    }
}

/// <summary>Launches the batch-normalization kernels on one accelerator.</summary>
public sealed class BatchNorm
{
    private readonly LaunchPolicy policy;
    private readonly Action<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>> planeSums, channelMean;
    private readonly Action<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> planeSquares;
    private readonly Action<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> channelVariance;
    private readonly Action<Index1D, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>> runningStatistics;
    private readonly Action<Index1D, int, BatchNormShape, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> normalize;
    private readonly Action<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> planeGradients;
    private readonly Action<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>, ArrayView<float>> channelGradients;
    private readonly Action<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> backwardInput;

    public BatchNorm(Accelerator accelerator, LaunchPolicy policy)
    {
        this.policy = policy;
        planeSums = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>>(BatchNormKernels.PlaneSums, policy.GroupSize);
        channelMean = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>>(BatchNormKernels.ChannelMean, policy.GroupSize);
        planeSquares = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.PlaneSquares, policy.GroupSize);
        channelVariance = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.ChannelVariance, policy.GroupSize);
        runningStatistics = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.RunningStatistics, policy.GroupSize);
        normalize = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, BatchNormShape, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.Normalize, policy.GroupSize);
        planeGradients = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.PlaneGradients, policy.GroupSize);
        channelGradients = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.ChannelGradients, policy.GroupSize);
        backwardInput = accelerator.LoadImplicitlyGroupedStreamKernel<Index1D, int, BatchNormShape, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(BatchNormKernels.BackwardInput, policy.GroupSize);
    }

    /// <summary>Floats of scratch the kernels need for <paramref name="s"/> (the planes' partial sums).</summary>
    public static int ScratchSize(BatchNormShape s) => 2 * s.Batch * s.Channels;

    /// <summary>
    /// y = BN(x) (ReLU'd when <paramref name="relu"/>); with <paramref name="training"/>, from the
    /// batch's statistics (kept in <paramref name="stats"/> for the backward pass) and the running ones updated.
    /// </summary>
    public void Forward(BatchNormShape s, bool training, bool relu, ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta,
        ArrayView<float> runningMean, ArrayView<float> runningVar, ArrayView<float> batchesTracked, ArrayView<float> stats, ArrayView<float> scratch, ArrayView<float> y)
    {
        int tc = policy.Threads(s.Channels), tp = policy.Threads((long)s.Batch * s.Channels);
        if (training)
        {
            planeSums(tp, tp, s, x, scratch);
            channelMean(tc, tc, s, scratch, stats);
            planeSquares(tp, tp, s, x, stats, scratch);
            channelVariance(tc, tc, s, scratch, stats, runningMean, runningVar, batchesTracked);
        }
        else runningStatistics(tc, tc, s.Channels, runningMean, runningVar, stats);
        normalize(tp, tp, s, relu ? 1 : 0, x, stats, gamma, beta, y);
    }

    /// <summary>dgamma, dbeta and (unless null) dx from dy and the training forward's x and stats.</summary>
    public void Backward(BatchNormShape s, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> stats, ArrayView<float> scratch, ArrayView<float> gamma,
        ArrayView<float> dGamma, ArrayView<float> dBeta, ArrayView<float>? dx)
    {
        int tc = policy.Threads(s.Channels), tp = policy.Threads((long)s.Batch * s.Channels);
        planeGradients(tp, tp, s, x, dy, stats, scratch);
        channelGradients(tc, tc, s, scratch, dGamma, dBeta);
        if (dx is not { } target) return;
        backwardInput(tp, tp, s, x, dy, stats, gamma, dGamma, dBeta, target);
    }
}
