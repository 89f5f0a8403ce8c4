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
    public static bool DropoutKeeps(ulong seed, ulong step, ulong index, double p)
    {
        const ulong Low32 = 0xFFFF_FFFF;
        static ulong Mix(ulong x)
        {
            x &= Low32;
            x = (x ^ (x >> 16)) * 0x7FEB352D & Low32;
            x = (x ^ (x >> 15)) * 0x846CA68B & Low32;
            return x ^ (x >> 16);
        }
        ulong h = Mix(Mix(Mix(seed) ^ (step & Low32)) ^ (index & Low32));
        return (h >> 8) / 16777216.0 >= p;
    }

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
