using FashionGpu.Kernels;
using FashionGpu.Training.Export;
using ILGPU;

namespace FashionGpu.Training.Model.Layers;

// MaxPool2d(2): [B,C,H,W] -> [B,C,H/2,W/2] (floored). No tensors.
// After a ReLU layer its backward pass also takes ReLU's derivative (one pass instead of two).
// Trimmable: it computes only the top-left windows the next layers read (Model.TrimUnread).

/// <summary>2 x 2 max pooling, stride 2, PyTorch's nn.MaxPool2d(2).</summary>
public sealed class MaxPool2dLayer(string name) : Layer(name)
{
    public override string Kind => "MaxPool2d";
    public override bool AbsorbsRelu => true;

    protected override TensorShape Shape(TensorShape input)
    {
        if (input.Height < 2 || input.Width < 2) throw new ArgumentException($"{Name}: a {input} input is too small for 2x2 pooling");
        return new TensorShape(input.Channels, input.Height / 2, input.Width / 2);
    }

    public override (int Height, int Width) Reads(int height, int width) => (2 * height, 2 * width);
    public override bool Trimmable => true;

    private PoolShape Pool(int batch) => new(batch, Input.Channels, Input.Height, Input.Width, Output.Height, Output.Width);

    public override void Forward(Pass pass, ArrayView<float> x, ArrayView<float> y) => K.Pool.Forward(Pool(pass.Batch), x, y);

    public override void Backward(Pass pass, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float>? dx)
    {
        if (dx is not { } target) return;
        if (TakesReluOfPrevious) K.Pool.BackwardRelu(Pool(pass.Batch), x, dy, target);
        else K.Pool.Backward(Pool(pass.Batch), x, dy, target);
    }

    public override string ToOnnx(OnnxGraph g, string x) =>
        g.Node("MaxPool", Name, [x], null, ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));

    public override string ProfileName(Phase phase) => phase == Phase.Backward && TakesReluOfPrevious ? $"{Name} + relu" : Name;
}
