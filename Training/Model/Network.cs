using FashionGpu.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Training.Model;

/// <summary>
/// The seed's CNN on one accelerator: Conv 32 3x3 + ReLU, MaxPool 2, Conv 64 3x3 + ReLU,
/// MaxPool 2, Dropout, Flatten (C,H,W), Dense 128 + ReLU, Dropout, Dense 10, softmax with
/// sparse categorical cross-entropy. Parameters, gradients, Adam moments and every
/// activation live on the device for the network's lifetime, sized for <see cref="MaxBatch"/>;
/// a step allocates nothing.
/// </summary>
public sealed class Network : IDisposable
{
    public const int Pixels = ParameterLayout.ImageSize * ParameterLayout.ImageSize;
    private readonly KernelLibrary k;
    private readonly List<MemoryBuffer> owned = [];
    private readonly ArrayView<float> images, conv1, pool1, conv2, pool2, fc1, logits;
    private readonly ArrayView<float> dLogits, dFc1, dPool2, dConv2, dPool1, dConv1;
    private readonly ArrayView<float> loss, correct;
    // Each layer's weight and bias, in the parameter and gradient buffers, looked up once.
    private readonly (ArrayView<float> W, ArrayView<float> B) conv1Params, conv2Params, fc1Params, fc2Params;
    private readonly (ArrayView<float> W, ArrayView<float> B) conv1Grads, conv2Grads, fc1Grads, fc2Grads;

    public ParameterLayout Layout { get; } = ParameterLayout.Seed;
    public int MaxBatch { get; }
    public float Dropout1 { get; }
    public float Dropout2 { get; }

    /// <summary>All parameters in one buffer, in <see cref="Layout"/> order; gradients and Adam's moments alike.</summary>
    public ArrayView<float> Parameters { get; }
    public ArrayView<float> Gradients { get; }
    public ArrayView<float> AdamM { get; }
    public ArrayView<float> AdamV { get; }

    /// <summary>The current batch's labels (the gather kernel writes them).</summary>
    public ArrayView<int> Labels { get; }

    /// <summary>The current batch's input images [B,1,28,28] (the gather kernel writes them).</summary>
    public ArrayView<float> Images => images;

    public Network(KernelLibrary kernels, int maxBatch, float dropout1, float dropout2)
    {
        k = kernels;
        MaxBatch = maxBatch;
        Dropout1 = dropout1;
        Dropout2 = dropout2;
        int b = maxBatch, c1 = ParameterLayout.Conv1Channels, c2 = ParameterLayout.Conv2Channels;
        int s1 = ParameterLayout.Conv1Out, p1 = ParameterLayout.Pool1Out, s2 = ParameterLayout.Conv2Out;
        Parameters = Allocate(Layout.Count);
        Gradients = Allocate(Layout.Count);
        AdamM = Allocate(Layout.Count);
        AdamV = Allocate(Layout.Count);
        images = Allocate(b * Pixels);
        conv1 = Allocate(b * c1 * s1 * s1); dConv1 = Allocate(b * c1 * s1 * s1);
        pool1 = Allocate(b * c1 * p1 * p1); dPool1 = Allocate(b * c1 * p1 * p1);
        conv2 = Allocate(b * c2 * s2 * s2); dConv2 = Allocate(b * c2 * s2 * s2);
        pool2 = Allocate(b * ParameterLayout.Flattened); dPool2 = Allocate(b * ParameterLayout.Flattened);
        fc1 = Allocate(b * ParameterLayout.Hidden); dFc1 = Allocate(b * ParameterLayout.Hidden);
        logits = Allocate(b * ParameterLayout.Classes); dLogits = Allocate(b * ParameterLayout.Classes);
        loss = Allocate(b); correct = Allocate(b);
        var labelBuffer = kernels.Accelerator.Allocate1D<int>(b);
        owned.Add(labelBuffer);
        Labels = labelBuffer.View;
        conv1Params = (Parameter("conv1.weight"), Parameter("conv1.bias"));
        conv2Params = (Parameter("conv2.weight"), Parameter("conv2.bias"));
        fc1Params = (Parameter("fc1.weight"), Parameter("fc1.bias"));
        fc2Params = (Parameter("fc2.weight"), Parameter("fc2.bias"));
        conv1Grads = (Gradient("conv1.weight"), Gradient("conv1.bias"));
        conv2Grads = (Gradient("conv2.weight"), Gradient("conv2.bias"));
        fc1Grads = (Gradient("fc1.weight"), Gradient("fc1.bias"));
        fc2Grads = (Gradient("fc2.weight"), Gradient("fc2.bias"));
        k.Ops.Fill(Layout.Count, 0f, AdamM);
        k.Ops.Fill(Layout.Count, 0f, AdamV);
    }

    /// <summary>About how many bytes of device memory a network for <paramref name="maxBatch"/> allocates (scratch buffers of the kernels included roughly).</summary>
    public static long DeviceBytes(int maxBatch)
    {
        long perSample = Pixels
            + 2L * ParameterLayout.Conv1Channels * ParameterLayout.Conv1Out * ParameterLayout.Conv1Out
            + 2L * ParameterLayout.Conv1Channels * ParameterLayout.Pool1Out * ParameterLayout.Pool1Out
            + 2L * ParameterLayout.Conv2Channels * ParameterLayout.Conv2Out * ParameterLayout.Conv2Out
            + 2L * ParameterLayout.Flattened + 2L * ParameterLayout.Hidden + 2L * ParameterLayout.Classes + 3;
        // The convolution kernels keep scratch copies about the size of their largest operand.
        long scratch = ParameterLayout.Conv1Channels * (long)ParameterLayout.Conv1Out * ParameterLayout.Conv1Out;
        return 4 * (4L * ParameterLayout.Seed.Count + maxBatch * (perSample + scratch));
    }

    private ArrayView<float> Allocate(int n)
    {
        var buffer = k.Accelerator.Allocate1D<float>(n);
        owned.Add(buffer);
        return buffer.View;
    }

    private ArrayView<float> Parameter(string name) => Slice(Parameters, name);
    private ArrayView<float> Gradient(string name) => Slice(Gradients, name);
    private ArrayView<float> Slice(ArrayView<float> all, string name)
    {
        var t = Layout[name];
        return all.SubView(t.Offset, t.Length);
    }

    public static ConvShape Conv1Shape(int batch) => new(batch, 1, ParameterLayout.Conv1Channels, ParameterLayout.ImageSize, ParameterLayout.ImageSize, 3, 3);
    public static ConvShape Conv2Shape(int batch) => new(batch, ParameterLayout.Conv1Channels, ParameterLayout.Conv2Channels, ParameterLayout.Pool1Out, ParameterLayout.Pool1Out, 3, 3);
    public static PoolShape Pool1Shape(int batch) => new(batch, ParameterLayout.Conv1Channels, ParameterLayout.Conv1Out, ParameterLayout.Conv1Out);
    public static PoolShape Pool2Shape(int batch) => new(batch, ParameterLayout.Conv2Channels, ParameterLayout.Conv2Out, ParameterLayout.Conv2Out);
    public static DenseShape Fc1Shape(int batch) => new(batch, ParameterLayout.Flattened, ParameterLayout.Hidden);
    public static DenseShape Fc2Shape(int batch) => new(batch, ParameterLayout.Hidden, ParameterLayout.Classes);

    /// <summary>
    /// The forward pass on the first <paramref name="batch"/> images. With <paramref name="dropout"/>
    /// set, dropout uses the masks of (seeds, step); otherwise it is the identity (evaluation).
    /// Logits go to <paramref name="logitsTarget"/> when given (evaluation keeps them all).
    /// </summary>
    public void Forward(int batch, DropoutMask? dropout1, DropoutMask? dropout2, ArrayView<float>? logitsTarget = null)
    {
        var p = Profiler;
        var c1 = Conv1Shape(batch);
        // Conv + bias + ReLU fused: conv1 and conv2 hold ReLU's outputs.
        k.Conv.ForwardRelu(c1, images, conv1Params.W, conv1Params.B, conv1);
        p?.Lap("conv1 + relu", Phase.Forward, c1.MultiplyAdds);
        k.Pool.Forward(Pool1Shape(batch), conv1, pool1);
        p?.Lap("pool1", Phase.Forward);
        var c2 = Conv2Shape(batch);
        k.Conv.ForwardRelu(c2, pool1, conv2Params.W, conv2Params.B, conv2);
        p?.Lap("conv2 + relu", Phase.Forward, c2.MultiplyAdds);
        k.Pool.Forward(Pool2Shape(batch), conv2, pool2);
        p?.Lap("pool2", Phase.Forward);
        var d1 = Fc1Shape(batch);
        // Dropout in place: the layers after it read the dropped values, the backward pass recomputes the mask.
        if (dropout1 is { } m1) k.Dropout.Forward(d1.InputSize, m1, pool2, pool2);
        p?.Lap("dropout1", Phase.Forward);
        k.Dense.ForwardRelu(d1, pool2, fc1Params.W, fc1Params.B, fc1);
        p?.Lap("fc1 + relu", Phase.Forward, d1.MultiplyAdds);
        if (dropout2 is { } m2) k.Dropout.Forward(d1.OutputSize, m2, fc1, fc1);
        p?.Lap("dropout2", Phase.Forward);
        var d2 = Fc2Shape(batch);
        k.Dense.Forward(d2, fc1, fc2Params.W, fc2Params.B, logitsTarget ?? logits);
        p?.Lap("fc2", Phase.Forward, d2.MultiplyAdds);
    }

    /// <summary>Per-sample loss and correctness of the last forward pass into the step's slot of <paramref name="totals"/>; with <paramref name="gradient"/>, also d(mean loss)/d(logits).</summary>
    public void Loss(int batch, bool gradient, int slot, ArrayView<float> totals, ArrayView<float>? logitsSource = null)
    {
        var s = new LossShape(batch, ParameterLayout.Classes);
        var z = logitsSource ?? logits;
        if (gradient) k.Loss.ForwardBackward(s, z, Labels, loss, correct, dLogits);
        else k.Loss.Forward(s, z, Labels, loss, correct);
        k.Loss.SumBatch(batch, slot, loss, correct, totals);
        Profiler?.Lap("softmax + cross-entropy", Phase.Forward);
    }

    /// <summary>Every parameter's gradient from d(loss)/d(logits); the masks must be those of the forward pass.</summary>
    public void Backward(int batch, DropoutMask? dropout1, DropoutMask? dropout2)
    {
        var p = Profiler;
        var d2 = Fc2Shape(batch);
        k.Dense.BackwardWeightAndBias(d2, dLogits, fc1, fc2Grads.W, fc2Grads.B);
        k.Dense.BackwardInput(d2, dLogits, fc2Params.W, dFc1);
        p?.Lap("fc2", Phase.Backward, 2 * d2.MultiplyAdds);
        var d1 = Fc1Shape(batch);
        if (dropout2 is { } m2) k.Dropout.Backward(d1.OutputSize, m2, dFc1, dFc1);
        p?.Lap("dropout2", Phase.Backward);
        // fc1 holds ReLU's output after dropout: positive exactly where ReLU passed a kept value.
        k.Relu.Backward(d1.OutputSize, fc1, dFc1, dFc1);
        k.Dense.BackwardWeightAndBias(d1, dFc1, pool2, fc1Grads.W, fc1Grads.B);
        k.Dense.BackwardInput(d1, dFc1, fc1Params.W, dPool2);
        p?.Lap("fc1 + relu", Phase.Backward, 2 * d1.MultiplyAdds);
        if (dropout1 is { } m1) k.Dropout.Backward(d1.InputSize, m1, dPool2, dPool2);
        p?.Lap("dropout1", Phase.Backward);
        // Pooling and ReLU backward fused: a window's gradient reaches its winner only if it was > 0.
        k.Pool.BackwardRelu(Pool2Shape(batch), conv2, dPool2, dConv2);
        p?.Lap("pool2 + relu", Phase.Backward);
        var c2 = Conv2Shape(batch);
        k.Conv.BackwardWeightAndBias(c2, dConv2, pool1, conv2Grads.W, conv2Grads.B);
        k.Conv.BackwardInput(c2, dConv2, conv2Params.W, dPool1);
        p?.Lap("conv2", Phase.Backward, 2 * c2.MultiplyAdds);
        k.Pool.BackwardRelu(Pool1Shape(batch), conv1, dPool1, dConv1);
        p?.Lap("pool1 + relu", Phase.Backward);
        var c1 = Conv1Shape(batch);
        // conv1's input is the data: only its weight and bias gradients are needed.
        k.Conv.BackwardWeightAndBias(c1, dConv1, images, conv1Grads.W, conv1Grads.B);
        p?.Lap("conv1", Phase.Backward, c1.MultiplyAdds);
    }

    /// <summary>
    /// One training step on the batch already in <see cref="Images"/> and <see cref="Labels"/>:
    /// forward, loss and its gradient (sums into <paramref name="slot"/> of <paramref name="totals"/>),
    /// backward, Adam. Launches only; the caller synchronises.
    /// </summary>
    public void TrainStep(int batch, DropoutMask? dropout1, DropoutMask? dropout2, AdamStep adam, int slot, ArrayView<float> totals)
    {
        Forward(batch, dropout1, dropout2);
        Loss(batch, gradient: true, slot, totals);
        Backward(batch, dropout1, dropout2);
        AdamUpdate(adam);
    }

    public void AdamUpdate(AdamStep step)
    {
        k.Adam.Update(Layout.Count, step, Parameters, Gradients, AdamM, AdamV);
        Profiler?.Lap("adam", Phase.Update);
    }

    /// <summary>When set, every layer is timed (with a synchronisation after each, which costs a little speed).</summary>
    public StepProfiler? Profiler { get; set; }

    public void Dispose()
    {
        k.Accelerator.Synchronize();
        foreach (var b in owned) b.Dispose();
    }
}
