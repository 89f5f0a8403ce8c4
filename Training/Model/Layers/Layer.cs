using FashionGpu.Kernels;
using FashionGpu.Training.Export;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Training.Model.Layers;

// The layer contract. A layer maps a per-sample input shape (C, H, W) to an output shape
// (dense features are (F, 1, 1)), declares its trainable parameters (with their PyTorch names
// and how they start) and its persistent buffers (saved in the checkpoint, never trained), and
// runs a forward and a backward pass over a batch laid out [B, C, H, W], and says what its
// inference forward pass is as ONNX operators (the export).
// Adding a layer kind: one kernel file in Kernels/, one class here, one reference function in
// Kernels/Reference/ReferenceOps.cs and one entry in Kernels/Verification/KernelChecks.cs.

/// <summary>The shape of one sample: channels, height, width. Dense features are (F, 1, 1).</summary>
public readonly record struct TensorShape(int Channels, int Height, int Width)
{
    public int Size => Channels * Height * Width;
    public override string ToString() => Height == 1 && Width == 1 ? $"{Channels}" : $"{Channels}x{Height}x{Width}";
}

/// <summary>How a tensor starts: Glorot-uniform (Keras' default for weights), zeros or ones.</summary>
public enum Init { Glorot, Zeros, Ones }

/// <summary>A tensor a layer owns, named relative to the layer ("weight", "running_mean"); <paramref name="Decay"/> marks weights that weight decay applies to.</summary>
public sealed record TensorSpec(string Name, int[] Shape, Init Init = Init.Zeros, bool Decay = false);

/// <summary>What a pass is for: the batch size, training (dropout, batch statistics) or evaluation, and the global step and seed that pick dropout masks.</summary>
public readonly record struct Pass(int Batch, bool Training, long Step, ulong Seed);

/// <summary>One layer of a <see cref="Network"/>: shapes and tensors first (host only), then bound to a device.</summary>
public abstract class Layer(string name)
{
    /// <summary>The prefix of its tensors' names (conv1 gives conv1.weight) and its name in the profile.</summary>
    public string Name { get; } = name;
    /// <summary>The input and output it computes with: <see cref="Nominal"/>, or less where <see cref="Model"/> trimmed what nothing reads.</summary>
    public TensorShape Input { get; private set; }
    public TensorShape Output { get; private set; }

    /// <summary>Its output shape as PyTorch's module computes it (what summaries show).</summary>
    public TensorShape Nominal { get; private set; }

    /// <summary>The layer's kind as model summaries show it (Conv2d, BatchNorm2d, ...).</summary>
    public abstract string Kind { get; }

    /// <summary>Its output shape for <paramref name="input"/>; throws ArgumentException for an input it cannot take.</summary>
    protected abstract TensorShape Shape(TensorShape input);

    /// <summary>Trainable parameters, in checkpoint order; Adam updates them.</summary>
    public virtual IReadOnlyList<TensorSpec> Parameters => [];

    /// <summary>Persistent state that is saved but not trained (batch norm's running statistics).</summary>
    public virtual IReadOnlyList<TensorSpec> Buffers => [];

    /// <summary>Multiply-adds of the forward pass per sample (each backward pass has about as many).</summary>
    public virtual long MultiplyAdds => 0;

    /// <summary>Whether its output is a ReLU's (then a following max pooling can take ReLU's backward step, see <see cref="AbsorbsRelu"/>).</summary>
    public virtual bool ReluOutput => false;

    /// <summary>Whether this layer's backward pass can include the ReLU derivative of the layer before it.</summary>
    public virtual bool AbsorbsRelu => false;

    /// <summary>Whether the layer may write its output over its input (and its input gradient over its output gradient).</summary>
    public virtual bool InPlace => false;

    /// <summary>Set by the network: this layer's ReLU derivative is taken by the next layer's backward pass.</summary>
    public bool ReluDoneByNext { get; internal set; }

    /// <summary>Set by the network: the layer before this one outputs ReLU's values, and this layer's backward includes ReLU's derivative.</summary>
    public bool TakesReluOfPrevious { get; internal set; }

    protected KernelLibrary K { get; private set; } = null!;
    /// <summary>Views of <see cref="Parameters"/>, their gradients and <see cref="Buffers"/>, in declaration order.</summary>
    protected ArrayView<float>[] P { get; private set; } = [];
    protected ArrayView<float>[] G { get; private set; } = [];
    protected ArrayView<float>[] S { get; private set; } = [];

    /// <summary>
    /// The rows and columns of its input that the top-left <paramref name="height"/> x <paramref name="width"/>
    /// outputs depend on. By default all of them: a layer whose outputs each read the whole input
    /// (dense), or whose values depend on every element (batch statistics, dropout masks by index).
    /// </summary>
    public virtual (int Height, int Width) Reads(int height, int width) => (Input.Height, Input.Width);

    /// <summary>Whether it can compute only the top-left part of its output (<see cref="Trim"/>).</summary>
    public virtual bool Trimmable => false;

    /// <summary>Set by the model for a <see cref="Trimmable"/> layer: the most rows and columns of output that later layers read.</summary>
    internal (int Height, int Width)? Trim { get; set; }

    /// <summary>Resolves the shapes (called when the model is defined: once as PyTorch's module has them, once trimmed).</summary>
    internal void Connect(TensorShape input, bool nominal)
    {
        Input = input;
        Output = Shape(input);
        if (nominal) Nominal = Output;
        if (Trim is var (h, w)) Output = Output with { Height = Math.Min(h, Output.Height), Width = Math.Min(w, Output.Width) };
    }

    /// <summary>Gives the layer its device, its tensors' views and room for up to <paramref name="maxBatch"/> samples.</summary>
    internal void Bind(KernelLibrary kernels, int maxBatch, ArrayView<float>[] parameters, ArrayView<float>[] gradients, ArrayView<float>[] buffers)
    {
        K = kernels;
        P = parameters;
        G = gradients;
        S = buffers;
        Allocate(kernels.Accelerator, maxBatch);
    }

    /// <summary>Allocates scratch buffers the layer keeps between its forward and backward passes.</summary>
    protected virtual void Allocate(Accelerator accelerator, int maxBatch) { }

    /// <summary>y = layer(x) for <c>pass.Batch</c> samples.</summary>
    public abstract void Forward(Pass pass, ArrayView<float> x, ArrayView<float> y);

    /// <summary>
    /// The parameter gradients and, unless <paramref name="dx"/> is null (the first layer), dL/dx,
    /// from dL/dy; x and y are the forward pass's. dy is w.r.t. the layer's output after its
    /// activation, unless <see cref="ReluDoneByNext"/>.
    /// </summary>
    public abstract void Backward(Pass pass, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float>? dx);

    /// <summary>Adds the evaluation-mode forward pass to <paramref name="graph"/> as ONNX operators, from the value <paramref name="x"/>; returns the output's name.</summary>
    public abstract string ToOnnx(OnnxGraph graph, string x);

    /// <summary>The profile's name for a pass: " + relu" when the pass does ReLU's work too.</summary>
    public virtual string ProfileName(Phase phase) => Name;

    /// <summary>Frees what <see cref="Allocate"/> took.</summary>
    public virtual void Release() { }

    public override string ToString() => $"{Name} ({Kind})";
}

/// <summary>A layer with an optional ReLU after it, fused into its kernels.</summary>
public abstract class ActivatedLayer(string name, bool relu) : Layer(name)
{
    public bool Relu { get; } = relu;
    public override bool ReluOutput => Relu;

    /// <summary>dy &lt;- dy where y &gt; 0 (ReLU's derivative, from its output), unless the next layer did it.</summary>
    protected void ReluBackward(Pass pass, ArrayView<float> y, ArrayView<float> dy)
    {
        if (Relu && !ReluDoneByNext) K.Relu.Backward(pass.Batch * Output.Size, y, dy, dy);
    }

    public override string ProfileName(Phase phase) =>
        Relu && (phase == Phase.Forward || !ReluDoneByNext) ? $"{Name} + relu" : Name;

    /// <summary><paramref name="y"/>, through an ONNX Relu when the layer has one.</summary>
    protected string OnnxRelu(OnnxGraph graph, string y) => Relu ? graph.Node("Relu", $"{Name}.relu", [y]) : y;
}
