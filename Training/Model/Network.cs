using FashionGpu.Kernels;
using FashionGpu.Training.Model.Layers;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Training.Model;

/// <summary>
/// A <see cref="Model"/> on one accelerator. Parameters, gradients, Adam's moments, the
/// persistent buffers and every activation and its gradient live on the device for the
/// network's lifetime, sized for <see cref="MaxBatch"/>; a step allocates nothing. Forward,
/// backward and the per-layer profile are one loop over the layers.
/// </summary>
public sealed class Network : IDisposable
{
    public const int Pixels = ParameterLayout.ImageSize * ParameterLayout.ImageSize;
    private readonly KernelLibrary k;
    private readonly List<MemoryBuffer> owned = [];
    /// <summary>Layer i reads activations[i] and writes activations[i + 1]; gradients alike (gradients[0], the images', is never computed).</summary>
    private readonly ArrayView<float>[] activations, gradients;
    private readonly ArrayView<float> loss, correct;

    public Model Model { get; }
    public IReadOnlyList<Layer> Layers => Model.Layers;
    public ParameterLayout Layout => Model.Parameters;
    public int MaxBatch { get; }

    /// <summary>All trainable parameters in one buffer, in <see cref="Layout"/> order; gradients and Adam's moments alike. Adam sees only these.</summary>
    public ArrayView<float> Parameters { get; }
    public ArrayView<float> Gradients { get; }
    public ArrayView<float> AdamM { get; }
    public ArrayView<float> AdamV { get; }

    /// <summary>The persistent buffers (batch-norm statistics) in <see cref="Model.Buffers"/> order; saved, never trained.</summary>
    public ArrayView<float> Buffers { get; }

    /// <summary>The current batch's labels (the gather kernel writes them).</summary>
    public ArrayView<int> Labels { get; }

    /// <summary>The current batch's input images [B,1,28,28] (the gather kernel writes them).</summary>
    public ArrayView<float> Images => activations[0];

    public Network(KernelLibrary kernels, Model model, int maxBatch)
    {
        k = kernels;
        Model = model;
        MaxBatch = maxBatch;
        int n = model.Layers.Count;
        Parameters = Allocate(Layout.Count);
        Gradients = Allocate(Layout.Count);
        AdamM = Allocate(Layout.Count);
        AdamV = Allocate(Layout.Count);
        Buffers = Allocate(model.Buffers.Count);
        activations = new ArrayView<float>[n + 1];
        gradients = new ArrayView<float>[n + 1];
        activations[0] = Allocate(maxBatch * Model.ImageShape.Size);
        for (int i = 0; i < n; i++)
        {
            var layer = model.Layers[i];
            // An in-place layer writes over its input, and its input gradient over its output's.
            activations[i + 1] = layer.InPlace ? activations[i] : Allocate(maxBatch * layer.Output.Size);
            gradients[i + 1] = layer.InPlace && i > 0 ? gradients[i] : Allocate(maxBatch * layer.Output.Size);
            layer.Bind(kernels, maxBatch, Views(Parameters, layer.Parameters, layer), Views(Gradients, layer.Parameters, layer),
                Views(Buffers, layer.Buffers, layer, model.Buffers));
        }
        loss = Allocate(maxBatch);
        correct = Allocate(maxBatch);
        var labelBuffer = kernels.Accelerator.Allocate1D<int>(maxBatch);
        owned.Add(labelBuffer);
        Labels = labelBuffer.View;
        k.Ops.Fill(Layout.Count, 0f, AdamM);
        k.Ops.Fill(Layout.Count, 0f, AdamV);
        if (model.Buffers.Count > 0) Buffers.CopyFromCPU(model.Buffers.Initial(0));
    }

    private ArrayView<float>[] Views(ArrayView<float> all, IReadOnlyList<TensorSpec> specs, Layer layer, ParameterLayout? layout = null) =>
        specs.Select(s =>
        {
            var t = (layout ?? Layout)[$"{layer.Name}.{s.Name}"];
            return all.SubView(t.Offset, t.Length);
        }).ToArray();

    private ArrayView<float> Allocate(int n)
    {
        var buffer = k.Accelerator.Allocate1D<float>(Math.Max(1, n));
        owned.Add(buffer);
        return buffer.View;
    }

    /// <summary>
    /// The forward pass on the first <c>pass.Batch</c> images: training (dropout, batch statistics)
    /// or evaluation. Logits go to <paramref name="logitsTarget"/> when given (evaluation keeps them all).
    /// </summary>
    public void Forward(Pass pass, ArrayView<float>? logitsTarget = null)
    {
        var p = Profiler;
        int last = Layers.Count - 1;
        for (int i = 0; i <= last; i++)
        {
            var layer = Layers[i];
            layer.Forward(pass, activations[i], i == last && logitsTarget is { } target ? target : activations[i + 1]);
            p?.Lap(layer.ProfileName(Phase.Forward), Phase.Forward, pass.Batch * layer.MultiplyAdds);
        }
    }

    /// <summary>Per-sample loss and correctness of the last forward pass into the step's slot of <paramref name="totals"/>; with <paramref name="gradient"/>, also d(mean loss)/d(logits).</summary>
    public void Loss(int batch, bool gradient, int slot, ArrayView<float> totals, ArrayView<float>? logitsSource = null)
    {
        var s = new LossShape(batch, ParameterLayout.Classes);
        var z = logitsSource ?? activations[^1];
        if (gradient) k.Loss.ForwardBackward(s, z, Labels, loss, correct, gradients[^1]);
        else k.Loss.Forward(s, z, Labels, loss, correct);
        k.Loss.SumBatch(batch, slot, loss, correct, totals);
        Profiler?.Lap("softmax + cross-entropy", Phase.Forward);
    }

    /// <summary>Every parameter's gradient from d(loss)/d(logits), for the training forward pass of the same <paramref name="pass"/>.</summary>
    public void Backward(Pass pass)
    {
        var p = Profiler;
        for (int i = Layers.Count - 1; i >= 0; i--)
        {
            var layer = Layers[i];
            // The first layer's input is the data: only its parameters' gradients are needed.
            layer.Backward(pass, activations[i], activations[i + 1], gradients[i + 1], i > 0 ? gradients[i] : null);
            p?.Lap(layer.ProfileName(Phase.Backward), Phase.Backward, (i > 0 ? 2 : 1) * pass.Batch * layer.MultiplyAdds);
        }
    }

    /// <summary>
    /// One training step on the batch already in <see cref="Images"/> and <see cref="Labels"/>:
    /// forward, loss and its gradient (sums into <paramref name="slot"/> of <paramref name="totals"/>),
    /// backward, weight decay, Adam. Launches only; the caller synchronises.
    /// </summary>
    public void TrainStep(Pass pass, AdamStep adam, float decayFactor, int slot, ArrayView<float> totals)
    {
        Forward(pass);
        Loss(pass.Batch, gradient: true, slot, totals);
        Backward(pass);
        if (decayFactor != 1f) Decay(decayFactor);
        AdamUpdate(adam);
    }

    /// <summary>Decoupled weight decay (AdamW): every decayed tensor (weights, not biases or normalization) scaled by <paramref name="factor"/> = 1 - lr * decay.</summary>
    public void Decay(float factor)
    {
        foreach (var t in Layout.Tensors)
            if (t.Decay) k.Adam.Scale(t.Length, factor, Parameters.SubView(t.Offset, t.Length));
        Profiler?.Lap("weight decay", Phase.Update);
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
        foreach (var layer in Layers) layer.Release();
        foreach (var b in owned) b.Dispose();
    }
}
