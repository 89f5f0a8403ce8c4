using FashionGpu.Kernels;
using FashionGpu.Training.Data;
using FashionGpu.Training.Checkpoints;
using FashionGpu.Training.Model;
using FashionGpu.Training.Model.Layers;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Training;

/// <summary>Loss and accuracy over a dataset, with every sample's logits for the pictures and reports.</summary>
public sealed record EvaluationResult(double Loss, double Accuracy, int Count, int Correct, float[] Logits, byte[] Labels)
{
    public int Predicted(int i)
    {
        int best = 0;
        for (int k = 1; k < ParameterLayout.Classes; k++)
            if (Logits[i * ParameterLayout.Classes + k] > Logits[i * ParameterLayout.Classes + best]) best = k;
        return best;
    }

    /// <summary>Softmax probabilities of sample <paramref name="i"/>.</summary>
    public double[] Probabilities(int i)
    {
        var z = Logits.AsSpan(i * ParameterLayout.Classes, ParameterLayout.Classes);
        double max = double.NegativeInfinity;
        foreach (var v in z) max = Math.Max(max, v);
        var p = new double[z.Length];
        double sum = 0;
        for (int k = 0; k < z.Length; k++) sum += p[k] = Math.Exp(z[k] - max);
        for (int k = 0; k < z.Length; k++) p[k] /= sum;
        return p;
    }
}

/// <summary>Runs the network without dropout over a device-resident dataset, keeping every sample's logits.</summary>
public sealed class Evaluator : IDisposable
{
    private readonly KernelLibrary k;
    private readonly Network network;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> identityOrder;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> totals;

    /// <summary>Runs <paramref name="model"/> with the checkpoint's <paramref name="state"/> over every image of <paramref name="set"/> (evaluate, predict).</summary>
    public static EvaluationResult Run(KernelLibrary kernels, Model.Model model, ModelState state, ImageSet set, int batchSize = 256)
    {
        using var network = new Network(kernels, model, Math.Min(batchSize, Math.Max(1, set.Count)));
        network.Parameters.CopyFromCPU(state.Parameters);
        if (state.Buffers.Length > 0) network.Buffers.CopyFromCPU(state.Buffers);
        using var data = new DeviceDataset(kernels.Accelerator, set);
        using var evaluator = new Evaluator(kernels, network, set.Count);
        return evaluator.Evaluate(data, 0, set.Count, set.Labels);
    }

    /// <param name="maxSamples">The largest index range any evaluation will cover.</param>
    public Evaluator(KernelLibrary kernels, Network network, int maxSamples)
    {
        k = kernels;
        this.network = network;
        identityOrder = kernels.Accelerator.Allocate1D(Enumerable.Range(0, Math.Max(1, maxSamples)).ToArray());
        totals = kernels.Accelerator.Allocate1D<float>(2 * Math.Max(1, (maxSamples + network.MaxBatch - 1) / network.MaxBatch));
    }

    /// <summary>Loss and accuracy without dropout over samples [first, first + count) of <paramref name="data"/>, keeping every logit.</summary>
    public EvaluationResult Evaluate(DeviceDataset data, int first, int count, byte[] hostLabels)
    {
        int batchSize = network.MaxBatch, steps = (count + batchSize - 1) / batchSize;
        using var allLogits = k.Accelerator.Allocate1D<float>(Math.Max(1, count) * ParameterLayout.Classes);
        for (int s = 0; s < steps; s++)
        {
            int start = s * batchSize, batch = Math.Min(batchSize, count - start);
            var logits = allLogits.View.SubView(start * ParameterLayout.Classes, batch * ParameterLayout.Classes);
            k.Ops.GatherBatch(batch, data.PixelsPerImage, data.Pixels, data.Labels, identityOrder.View.SubView(first + start, batch), network.Images, network.Labels);
            network.Forward(new Pass(batch, Training: false, 0, 0), logits);
            network.Loss(batch, gradient: false, slot: s, totals.View, logits);
        }
        k.Accelerator.Synchronize();
        var (loss, correct) = SumSlots(totals.View, 0, steps);
        var labels = hostLabels.AsSpan(first, count).ToArray();
        return new EvaluationResult(count == 0 ? double.NaN : loss / count, count == 0 ? double.NaN : correct / count,
            count, (int)Math.Round(correct), allLogits.GetAsArray1D(), labels);
    }

    /// <summary>Sums the (loss, correct) pairs of slots [from, to) in double precision.</summary>
    public static (double Loss, double Correct) SumSlots(ArrayView<float> totals, int from, int to)
    {
        var sums = totals.SubView(2 * from, 2 * (to - from)).GetAsArray();
        double loss = 0, correct = 0;
        for (int i = 0; i < sums.Length; i += 2) { loss += sums[i]; correct += sums[i + 1]; }
        return (loss, correct);
    }

    public void Dispose()
    {
        identityOrder.Dispose();
        totals.Dispose();
    }
}
