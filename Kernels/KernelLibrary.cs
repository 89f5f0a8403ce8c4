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
    public Pad2d Pad { get; }
    public BatchNorm BatchNorm { get; }
    public Relu Relu { get; }
    public Dropout Dropout { get; }
    public Dense Dense { get; }
    public SoftmaxCrossEntropy Loss { get; }
    public Adam Adam { get; }
    public TensorOps Ops { get; }
    public Augment Augment { get; }

    /// <param name="forceGemm">Use this GEMM variant instead of the device's default (see <see cref="LaunchPolicy"/>).</param>
    public KernelLibrary(Accelerator accelerator, GemmVariant? forceGemm = null)
    {
        Accelerator = accelerator;
        var policy = Policy = new LaunchPolicy(accelerator, forceGemm);
        // A driver that rejects a kernel gets a KernelCompilationException with its build log.
        var conv = Conv = KernelCompilation.Compile(accelerator, () => Conv2d.Create(accelerator, policy));
        Pool = KernelCompilation.Compile(accelerator, () => new MaxPool2d(accelerator, policy));
        Pad = KernelCompilation.Compile(accelerator, () => new Pad2d(accelerator, policy));
        BatchNorm = KernelCompilation.Compile(accelerator, () => new BatchNorm(accelerator, policy));
        Relu = KernelCompilation.Compile(accelerator, () => new Relu(accelerator, policy));
        Dropout = KernelCompilation.Compile(accelerator, () => new Dropout(accelerator, policy));
        Dense = KernelCompilation.Compile(accelerator, () => new Dense(accelerator, policy, conv));
        Loss = KernelCompilation.Compile(accelerator, () => new SoftmaxCrossEntropy(accelerator, policy));
        Adam = KernelCompilation.Compile(accelerator, () => new Adam(accelerator, policy));
        Ops = KernelCompilation.Compile(accelerator, () => new TensorOps(accelerator, policy));
        Augment = KernelCompilation.Compile(accelerator, () => new Augment(accelerator, policy));
    }
}
