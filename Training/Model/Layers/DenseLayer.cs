using FashionGpu.Kernels;
using FashionGpu.Training.Export;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Training.Model.Layers;

// Linear(I -> O) + bias, optionally ReLU: [B,I] -> [B,O], where I is the flattened (C,H,W) input.
// Tensors: weight [O,I] (Glorot, decayed), bias [O] (zeros).

/// <summary>A dense layer on the flattened input, PyTorch's nn.Flatten() then nn.Linear(I, O).</summary>
public sealed class DenseLayer(string name, int outputs, bool relu = false) : ActivatedLayer(name, relu)
{
    public override string Kind => "Linear";

    protected override TensorShape Shape(TensorShape input) => new(outputs, 1, 1);

    public override IReadOnlyList<TensorSpec> Parameters =>
    [
        new("weight", [outputs, Input.Size], Init.Glorot, Decay: true),
        new("bias", [outputs]),
    ];

    public override long MultiplyAdds => (long)Input.Size * outputs;

    private DenseShape Dense(int batch) => new(batch, Input.Size, outputs);

    public override void Forward(Pass pass, ArrayView<float> x, ArrayView<float> y)
    {
        if (Relu) K.Dense.ForwardRelu(Dense(pass.Batch), x, P[0], P[1], y);
        else K.Dense.Forward(Dense(pass.Batch), x, P[0], P[1], y);
    }

    public override string ToOnnx(OnnxGraph g, string x) =>
        OnnxRelu(g, g.Node("Gemm", Name, [g.Flatten(x, $"{Name}.flatten"), g.Weight($"{Name}.weight"), g.Weight($"{Name}.bias")], rank: 2, ("transB", 1L)));

    public override void Backward(Pass pass, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float>? dx)
    {
        ReluBackward(pass, y, dy);
        K.Dense.BackwardWeightAndBias(Dense(pass.Batch), dy, x, G[0], G[1]);
        if (dx is { } target) K.Dense.BackwardInput(Dense(pass.Batch), dy, P[0], target);
    }
}
