using FashionGpu.Kernels;
using FashionGpu.Training.Export;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Training.Model.Layers;

// Conv2d(C -> O, k x k, stride 1, zero padding p) + bias, optionally ReLU: [B,C,H,W] -> [B,O,H+2p-k+1,W+2p-k+1].
// Tensors: weight [O,C,k,k] (Glorot, decayed), bias [O] (zeros). With padding the input is padded
// into a scratch copy first (Kernels/Pad2d.cs) and the convolution is a valid one on it.

/// <summary>A 2-D convolution, PyTorch's nn.Conv2d(C, O, k, padding=p).</summary>
public sealed class Conv2dLayer(string name, int channels, int kernel, int padding = 0, bool relu = false) : ActivatedLayer(name, relu)
{
    private MemoryBuffer1D<float, Stride1D.Dense>? padded, dPadded;

    public override string Kind => "Conv2d";
    public int Padding => padding;

    protected override TensorShape Shape(TensorShape input)
    {
        int h = input.Height + 2 * padding - kernel + 1, w = input.Width + 2 * padding - kernel + 1;
        if (h < 1 || w < 1) throw new ArgumentException($"{Name}: a {kernel}x{kernel} kernel does not fit a {input} input with padding {padding}");
        return new TensorShape(channels, h, w);
    }

    // Without padding, output row y reads input rows y .. y + k - 1. (With padding the padded copy
    // needs the whole input: a shorter input would move the bottom padding.)
    public override (int Height, int Width) Reads(int height, int width) =>
        padding == 0 ? (height + kernel - 1, width + kernel - 1) : (Input.Height, Input.Width);

    public override IReadOnlyList<TensorSpec> Parameters =>
    [
        new("weight", [channels, Input.Channels, kernel, kernel], Init.Glorot, Decay: true),
        new("bias", [channels]),
    ];

    public override long MultiplyAdds => (long)Output.Size * Input.Channels * kernel * kernel;

    private ConvShape Conv(int batch) => new(batch, Input.Channels, channels, Input.Height + 2 * padding, Input.Width + 2 * padding, kernel, kernel);
    private PadShape Pad(int batch) => new(batch, Input.Channels, Input.Height, Input.Width, padding);

    protected override void Allocate(Accelerator accelerator, int maxBatch)
    {
        if (padding == 0) return;
        padded = accelerator.Allocate1D<float>(Pad(maxBatch).OutputSize);
        dPadded = accelerator.Allocate1D<float>(Pad(maxBatch).OutputSize);
    }

    public override void Forward(Pass pass, ArrayView<float> x, ArrayView<float> y)
    {
        var input = x;
        if (padded is not null)
        {
            K.Pad.Forward(Pad(pass.Batch), x, padded.View);
            input = padded.View;
        }
        // Bias and ReLU fused into the GEMM's epilogue.
        if (Relu) K.Conv.ForwardRelu(Conv(pass.Batch), input, P[0], P[1], y);
        else K.Conv.Forward(Conv(pass.Batch), input, P[0], P[1], y);
    }

    public override void Backward(Pass pass, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float>? dx)
    {
        ReluBackward(pass, y, dy);
        var c = Conv(pass.Batch);
        K.Conv.BackwardWeightAndBias(c, dy, padded?.View ?? x, G[0], G[1]);
        if (dx is not { } target) return;
        if (dPadded is null)
        {
            K.Conv.BackwardInput(c, dy, P[0], target);
            return;
        }
        K.Conv.BackwardInput(c, dy, P[0], dPadded.View);
        K.Pad.Backward(Pad(pass.Batch), dPadded.View, target);
    }

    public override string ToOnnx(OnnxGraph g, string x) => OnnxRelu(g, g.Node("Conv", Name, [x, g.Weight($"{Name}.weight"), g.Weight($"{Name}.bias")], null,
        ("kernel_shape", new long[] { kernel, kernel }), ("pads", new long[] { padding, padding, padding, padding }), ("strides", new long[] { 1, 1 })));

    public override void Release()
    {
        padded?.Dispose();
        dPadded?.Dispose();
    }
}
