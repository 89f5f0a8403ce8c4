using FashionGpu.Kernels;
using FashionGpu.Training.Export;
using ILGPU;

namespace FashionGpu.Training.Model.Layers;

// Inverted dropout with drop probability p, in place: [B,...] -> the same shape. No tensors.
// The mask is a hash of (seed, step, element), so the backward pass recomputes it. In place is
// safe for the layer before: where it is dropped its gradient is 0, whatever ReLU's derivative says.

/// <summary>Dropout, PyTorch's nn.Dropout(p); the identity in evaluation.</summary>
public sealed class DropoutLayer(string name, float p) : Layer(name)
{
    public override string Kind => "Dropout";
    public float Probability => p;
    public override bool InPlace => true;

    /// <summary>Which of the model's dropout layers this is (1, 2, ...): its masks come from its own stream of the run's seed.</summary>
    public int Stream { get; internal set; } = 1;

    protected override TensorShape Shape(TensorShape input) => input;

    private DropoutMask? Mask(Pass pass) =>
        pass.Training && p > 0 ? new DropoutMask((uint)SplitMix64.Derive(pass.Seed, 2, (ulong)Stream), (uint)pass.Step, p) : null;

    public override void Forward(Pass pass, ArrayView<float> x, ArrayView<float> y)
    {
        if (Mask(pass) is { } mask) K.Dropout.Forward(pass.Batch * Input.Size, mask, x, y);
    }

    /// <summary>The identity: ONNX graphs here are for inference.</summary>
    public override string ToOnnx(OnnxGraph g, string x) => x;

    public override void Backward(Pass pass, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float>? dx)
    {
        if (Mask(pass) is { } mask && dx is { } target) K.Dropout.Backward(pass.Batch * Input.Size, mask, dy, target);
    }
}
