namespace FashionGpu.Kernels.Reference;

/// <summary>
/// Plain C# versions of every kernel, in double precision, written for clarity rather than
/// speed: the ground truth for the tests and for <c>fashiongpu selftest</c>. Same layouts
/// and shape structs as the kernels.
/// </summary>
public static class ReferenceOps
{
    public static double[] ConvForward(ConvShape s, double[] input, double[] weight, double[] bias)
    {
        var output = new double[s.OutputSize];
        for (int b = 0; b < s.Batch; b++)
            for (int o = 0; o < s.OutChannels; o++)
                for (int y = 0; y < s.OutH; y++)
                    for (int x = 0; x < s.OutW; x++)
                    {
                        double acc = bias[o];
                        for (int c = 0; c < s.InChannels; c++)
                            for (int ky = 0; ky < s.KernelH; ky++)
                                for (int kx = 0; kx < s.KernelW; kx++)
                                    acc += input[In(s, b, c, y + ky, x + kx)] * weight[W(s, o, c, ky, kx)];
                        output[Out(s, b, o, y, x)] = acc;
                    }
        return output;
    }

    /// <summary>All three convolution gradients, accumulated by scattering each output gradient.</summary>
    public static (double[] DInput, double[] DWeight, double[] DBias) ConvBackward(ConvShape s, double[] input, double[] weight, double[] dOutput)
    {
        var dInput = new double[s.InputSize];
        var dWeight = new double[s.WeightSize];
        var dBias = new double[s.OutChannels];
        for (int b = 0; b < s.Batch; b++)
            for (int o = 0; o < s.OutChannels; o++)
                for (int y = 0; y < s.OutH; y++)
                    for (int x = 0; x < s.OutW; x++)
                    {
                        double g = dOutput[Out(s, b, o, y, x)];
                        dBias[o] += g;
                        for (int c = 0; c < s.InChannels; c++)
                            for (int ky = 0; ky < s.KernelH; ky++)
                                for (int kx = 0; kx < s.KernelW; kx++)
                                {
                                    dInput[In(s, b, c, y + ky, x + kx)] += g * weight[W(s, o, c, ky, kx)];
                                    dWeight[W(s, o, c, ky, kx)] += g * input[In(s, b, c, y + ky, x + kx)];
                                }
                    }
        return (dInput, dWeight, dBias);
    }

    private static int In(ConvShape s, int b, int c, int y, int x) => ((b * s.InChannels + c) * s.Height + y) * s.Width + x;
    private static int W(ConvShape s, int o, int c, int ky, int kx) => ((o * s.InChannels + c) * s.KernelH + ky) * s.KernelW + kx;
    private static int Out(ConvShape s, int b, int o, int y, int x) => ((b * s.OutChannels + o) * s.OutH + y) * s.OutW + x;

    public static double[] MaxPoolForward(PoolShape s, double[] input)
    {
        var output = new double[s.OutputSize];
        for (int p = 0; p < s.Planes; p++)
            for (int y = 0; y < s.OutH; y++)
                for (int x = 0; x < s.OutW; x++)
                {
                    double max = double.NegativeInfinity;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                            max = Math.Max(max, input[(p * s.Height + 2 * y + dy) * s.Width + 2 * x + dx]);
                    output[(p * s.OutH + y) * s.OutW + x] = max;
                }
        return output;
    }

    /// <summary>Each window's gradient goes to its first maximal element in row-major order.</summary>
    public static double[] MaxPoolBackward(PoolShape s, double[] input, double[] dOutput)
    {
        var dInput = new double[s.InputSize];
        for (int p = 0; p < s.Planes; p++)
            for (int y = 0; y < s.OutH; y++)
                for (int x = 0; x < s.OutW; x++)
                {
                    int best = -1;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                        {
                            int i = (p * s.Height + 2 * y + dy) * s.Width + 2 * x + dx;
                            if (best < 0 || input[i] > input[best]) best = i;
                        }
                    dInput[best] += dOutput[(p * s.OutH + y) * s.OutW + x];
                }
        return dInput;
    }

    public static double[] ReluForward(double[] input) => input.Select(v => Math.Max(v, 0)).ToArray();

    public static double[] ReluBackward(double[] input, double[] dOutput) =>
        input.Select((v, i) => v > 0 ? dOutput[i] : 0).ToArray();

    /// <summary>Dropout's derivative is the forward pass itself (it is linear for a fixed mask).</summary>
    public static double[] Dropout(DropoutMask mask, double[] values) =>
        values.Select((v, i) => DropoutKeeps(mask.Seed, mask.Step, (ulong)i, mask.P) ? v / (1.0 - mask.P) : 0).ToArray();

    /// <summary>
    /// The dropout mask from its definition, written apart from the kernel's <see cref="CounterHash"/>
    /// (64-bit arithmetic, masked to 32 bits): element i at step t is kept when
    /// u = (H(seed, t, i) >> 8) / 2^24 >= p, with H = mix(mix(mix(seed) ^ t) ^ i) and mix the
    /// lowbias32 finalizer: x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16.
    /// </summary>
    public static bool DropoutKeeps(ulong seed, ulong step, ulong index, double p) => (Hash(seed, step, index) >> 8) / 16777216.0 >= p;

    /// <summary>H(seed, step, index), 32 bits, as <see cref="DropoutKeeps"/> defines it; augmentation draws from it too.</summary>
    public static ulong Hash(ulong seed, ulong step, ulong index) => Mix32(Mix32(Mix32(seed) ^ (step & 0xFFFF_FFFF)) ^ (index & 0xFFFF_FFFF));

    public static ulong Mix32(ulong x)
    {
        const ulong Low32 = 0xFFFF_FFFF;
        x &= Low32;
        x = (x ^ (x >> 16)) * 0x7FEB352D & Low32;
        x = (x ^ (x >> 15)) * 0x846CA68B & Low32;
        return x ^ (x >> 16);
    }

    /// <summary>
    /// The augmented batch by its definition: image indices[b] is flipped left-right when flips
    /// are on and bit 0 of mix(h) is set, then shifted down by dy = (h mod 2^16) mod (2s+1) - s
    /// and right by dx = (h div 2^16) mod (2s+1) - s, zeros coming in; h = hash(seed, epoch, index).
    /// </summary>
    public static double[] Augment(int size, uint seed, uint epoch, int shift, bool flip, byte[] pixels, int[] indices)
    {
        var images = new double[indices.Length * size * size];
        for (int b = 0; b < indices.Length; b++)
        {
            ulong h = Hash(seed, epoch, (ulong)indices[b]);
            ulong span = (ulong)(2 * shift + 1);
            int dy = (int)((h & 0xFFFF) % span) - shift, dx = (int)((h >> 16) % span) - shift;
            bool mirrored = flip && (Mix32(h) & 1) == 1;
            var flipped = new double[size, size];
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    flipped[y, mirrored ? size - 1 - x : x] = pixels[(indices[b] * size + y) * size + x] / 255.0;
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    int sy = y - dy, sx = x - dx;
                    images[(b * size + y) * size + x] = sy >= 0 && sy < size && sx >= 0 && sx < size ? flipped[sy, sx] : 0;
                }
        }
        return images;
    }

    public static double[] Pad(PadShape s, double[] input)
    {
        var output = new double[s.OutputSize];
        for (int p = 0; p < s.Batch * s.Channels; p++)
            for (int y = 0; y < s.Height; y++)
                for (int x = 0; x < s.Width; x++)
                    output[(p * s.OutH + y + s.Pad) * s.OutW + x + s.Pad] = input[(p * s.Height + y) * s.Width + x];
        return output;
    }

    /// <summary>Padding is linear: its backward pass is its transpose, the crop.</summary>
    public static double[] PadBackward(PadShape s, double[] dOutput)
    {
        var dInput = new double[s.InputSize];
        for (int p = 0; p < s.Batch * s.Channels; p++)
            for (int y = 0; y < s.Height; y++)
                for (int x = 0; x < s.Width; x++)
                    dInput[(p * s.Height + y) * s.Width + x] = dOutput[(p * s.OutH + y + s.Pad) * s.OutW + x + s.Pad];
        return dInput;
    }

    /// <summary>The values of channel c, all samples and positions, as indices into a [B,C,plane] tensor.</summary>
    private static IEnumerable<int> ChannelIndices(BatchNormShape s, int c) =>
        Enumerable.Range(0, s.Batch).SelectMany(b => Enumerable.Range((b * s.Channels + c) * s.Plane, s.Plane));

    /// <summary>Batch normalization in training: y from the batch's mean and biased variance; both returned per channel.</summary>
    public static (double[] Y, double[] Mean, double[] Variance) BatchNormTrain(BatchNormShape s, double[] x, double[] gamma, double[] beta)
    {
        var y = new double[s.Size];
        var mean = new double[s.Channels];
        var variance = new double[s.Channels];
        for (int c = 0; c < s.Channels; c++)
        {
            var idx = ChannelIndices(s, c).ToArray();
            mean[c] = idx.Average(i => x[i]);
            variance[c] = idx.Average(i => (x[i] - mean[c]) * (x[i] - mean[c]));
            foreach (var i in idx) y[i] = (x[i] - mean[c]) / Math.Sqrt(variance[c] + BatchNormKernels.Epsilon) * gamma[c] + beta[c];
        }
        return (y, mean, variance);
    }

    /// <summary>Batch normalization in evaluation: the running statistics.</summary>
    public static double[] BatchNormEval(BatchNormShape s, double[] x, double[] gamma, double[] beta, double[] runningMean, double[] runningVar)
    {
        var y = new double[s.Size];
        for (int c = 0; c < s.Channels; c++)
            foreach (var i in ChannelIndices(s, c))
                y[i] = (x[i] - runningMean[c]) / Math.Sqrt(runningVar[c] + BatchNormKernels.Epsilon) * gamma[c] + beta[c];
        return y;
    }

    /// <summary>The running statistics after one training batch: momentum 0.1, the unbiased variance (N/(N-1)).</summary>
    public static (double[] Mean, double[] Variance) BatchNormRunning(BatchNormShape s, double[] batchMean, double[] batchVariance, double[] runningMean, double[] runningVar)
    {
        double n = s.Count, m = BatchNormKernels.Momentum;
        return (runningMean.Select((r, c) => (1 - m) * r + m * batchMean[c]).ToArray(),
                runningVar.Select((r, c) => (1 - m) * r + m * batchVariance[c] * n / (n - 1)).ToArray());
    }

    /// <summary>The gradients of training-mode batch normalization (through the batch statistics).</summary>
    public static (double[] DX, double[] DGamma, double[] DBeta) BatchNormBackward(BatchNormShape s, double[] x, double[] gamma, double[] dy)
    {
        var dx = new double[s.Size];
        var dGamma = new double[s.Channels];
        var dBeta = new double[s.Channels];
        var (_, mean, variance) = BatchNormTrain(s, x, gamma, new double[s.Channels]);
        for (int c = 0; c < s.Channels; c++)
        {
            var idx = ChannelIndices(s, c).ToArray();
            double invStd = 1 / Math.Sqrt(variance[c] + BatchNormKernels.Epsilon), n = idx.Length;
            foreach (var i in idx)
            {
                dBeta[c] += dy[i];
                dGamma[c] += dy[i] * (x[i] - mean[c]) * invStd;
            }
            foreach (var i in idx)
                dx[i] = gamma[c] * invStd * (dy[i] - dBeta[c] / n - (x[i] - mean[c]) * invStd * dGamma[c] / n);
        }
        return (dx, dGamma, dBeta);
    }

    /// <summary>Decoupled weight decay: every value times (1 - lr * decay).</summary>
    public static double[] WeightDecay(double[] values, double factor) => values.Select(v => v * factor).ToArray();

    public static double[] DenseForward(DenseShape s, double[] x, double[] weight, double[] bias)
    {
        var y = new double[s.OutputSize];
        for (int b = 0; b < s.Batch; b++)
            for (int o = 0; o < s.Outputs; o++)
            {
                double acc = bias[o];
                for (int i = 0; i < s.Inputs; i++) acc += x[b * s.Inputs + i] * weight[o * s.Inputs + i];
                y[b * s.Outputs + o] = acc;
            }
        return y;
    }

    public static (double[] DInput, double[] DWeight, double[] DBias) DenseBackward(DenseShape s, double[] x, double[] weight, double[] dy)
    {
        var dx = new double[s.InputSize];
        var dW = new double[s.WeightSize];
        var db = new double[s.Outputs];
        for (int b = 0; b < s.Batch; b++)
            for (int o = 0; o < s.Outputs; o++)
            {
                double g = dy[b * s.Outputs + o];
                db[o] += g;
                for (int i = 0; i < s.Inputs; i++)
                {
                    dx[b * s.Inputs + i] += g * weight[o * s.Inputs + i];
                    dW[o * s.Inputs + i] += g * x[b * s.Inputs + i];
                }
            }
        return (dx, dW, db);
    }

    /// <summary>Per-sample loss, correctness (argmax, first on ties) and the gradient of the mean loss.</summary>
    public static (double[] Loss, double[] Correct, double[] DLogits) SoftmaxCrossEntropy(LossShape s, double[] logits, int[] labels)
    {
        var loss = new double[s.Batch];
        var correct = new double[s.Batch];
        var dLogits = new double[s.Batch * s.Classes];
        for (int b = 0; b < s.Batch; b++)
        {
            var row = logits.AsSpan(b * s.Classes, s.Classes);
            int argmax = 0;
            for (int k = 1; k < s.Classes; k++) if (row[k] > row[argmax]) argmax = k;
            double max = row[argmax], sum = 0;
            foreach (var z in row) sum += Math.Exp(z - max);
            loss[b] = Math.Log(sum) + max - row[labels[b]];
            correct[b] = argmax == labels[b] ? 1 : 0;
            for (int k = 0; k < s.Classes; k++)
                dLogits[b * s.Classes + k] = (Math.Exp(row[k] - max) / sum - (k == labels[b] ? 1 : 0)) / s.Batch;
        }
        return (loss, correct, dLogits);
    }

    /// <summary>One Adam step (Keras' formulation) on copies of the inputs.</summary>
    public static (double[] Parameters, double[] M, double[] V) AdamUpdate(AdamSettings a, long t, double[] parameters, double[] gradients, double[] m, double[] v)
    {
        double alpha = a.LearningRate * Math.Sqrt(1 - Math.Pow(a.Beta2, t)) / (1 - Math.Pow(a.Beta1, t));
        var p2 = (double[])parameters.Clone();
        var m2 = new double[m.Length];
        var v2 = new double[v.Length];
        for (int i = 0; i < p2.Length; i++)
        {
            m2[i] = a.Beta1 * m[i] + (1 - a.Beta1) * gradients[i];
            v2[i] = a.Beta2 * v[i] + (1 - a.Beta2) * gradients[i] * gradients[i];
            p2[i] -= alpha * m2[i] / (Math.Sqrt(v2[i]) + a.Epsilon);
        }
        return (p2, m2, v2);
    }
}
