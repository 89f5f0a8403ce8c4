using ILGPU.Runtime;

namespace FashionGpu.Kernels;

/// <summary>
/// Every kernel, compiled for one accelerator. Create one per accelerator and keep it:
/// construction compiles all kernels (about a second on OpenCL), launches reuse them.
/// </summary>
public sealed class KernelLibrary
{
    public Accelerator Accelerator { get; }
    public LaunchPolicy Policy { get; }
    public Conv2d Conv { get; }
    public MaxPool2d Pool { get; }
    public Relu Relu { get; }
    public Dropout Dropout { get; }
    public Dense Dense { get; }
    public SoftmaxCrossEntropy Loss { get; }
    public Adam Adam { get; }
    public TensorOps Ops { get; }

    /// <param name="forceGemm">Use this GEMM variant instead of the device's default (see <see cref="LaunchPolicy"/>).</param>
    public KernelLibrary(Accelerator accelerator, GemmVariant? forceGemm = null)
    {
        Accelerator = accelerator;
        Policy = new LaunchPolicy(accelerator, forceGemm);
        Conv = new Conv2d(accelerator, Policy);
        Pool = new MaxPool2d(accelerator, Policy);
        Relu = new Relu(accelerator, Policy);
        Dropout = new Dropout(accelerator, Policy);
        Dense = new Dense(accelerator, Policy);
        Loss = new SoftmaxCrossEntropy(accelerator, Policy);
        Adam = new Adam(accelerator, Policy);
        Ops = new TensorOps(accelerator, Policy);
    }
}
