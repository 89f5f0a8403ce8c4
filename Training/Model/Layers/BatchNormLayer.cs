using FashionGpu.Kernels;
using FashionGpu.Training.Export;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Training.Model.Layers;

// BatchNorm over channels (2d: per channel of [B,C,H,W]; 1d: per feature of [B,F]), optionally
// ReLU: the same shape out. Tensors: weight (gamma, ones) and bias (beta, zeros), trained, not
// decayed; buffers running_mean (zeros), running_var (ones), num_batches_tracked (a scalar, 0).

/// <summary>Batch normalization, PyTorch's nn.BatchNorm2d(C) or nn.BatchNorm1d(F) (momentum 0.1, eps 1e-5).</summary>
public sealed class BatchNormLayer(string name, bool relu = false) : ActivatedLayer(name, relu)
{
    private MemoryBuffer1D<float, Stride1D.Dense>? stats, scratch;

    public override string Kind => Input.Height * Input.Width == 1 ? "BatchNorm1d" : "BatchNorm2d";

    protected override TensorShape Shape(TensorShape input) => input;

    public override IReadOnlyList<TensorSpec> Parameters => [new("weight", [Input.Channels], Init.Ones), new("bias", [Input.Channels])];

    public override IReadOnlyList<TensorSpec> Buffers =>
        [new("running_mean", [Input.Channels]), new("running_var", [Input.Channels], Init.Ones), new("num_batches_tracked", [])];

    private BatchNormShape Norm(int batch) => new(batch, Input.Channels, Input.Height * Input.Width);

    protected override void Allocate(Accelerator accelerator, int maxBatch)
    {
        stats = accelerator.Allocate1D<float>(2 * Input.Channels);
        scratch = accelerator.Allocate1D<float>(BatchNorm.ScratchSize(Norm(maxBatch)));
    }

    public override void Forward(Pass pass, ArrayView<float> x, ArrayView<float> y) =>
        K.BatchNorm.Forward(Norm(pass.Batch), pass.Training, Relu, x, P[0], P[1], S[0], S[1], S[2], stats!.View, scratch!.View, y);

    public override void Backward(Pass pass, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float>? dx)
    {
        ReluBackward(pass, y, dy);
        K.BatchNorm.Backward(Norm(pass.Batch), x, dy, stats!.View, scratch!.View, P[0], G[0], G[1], dx);
    }

    public override string ToOnnx(OnnxGraph g, string x) => OnnxRelu(g, g.Node("BatchNormalization", Name,
        [x, g.Weight($"{Name}.weight"), g.Weight($"{Name}.bias"), g.Weight($"{Name}.running_mean"), g.Weight($"{Name}.running_var")], null,
        ("epsilon", BatchNormKernels.Epsilon)));

    public override void Release()
    {
        stats?.Dispose();
        scratch?.Dispose();
    }
}
