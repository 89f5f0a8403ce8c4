using BenchmarkDotNet.Attributes;
using FashionGpu.Kernels;
using FashionGpu.Training.Model;
using ILGPU;

namespace FashionGpu.Bench.Benchmarks;

/// <summary>
/// Every kernel at the seed model's training shapes (batch 64), one launch plus a
/// synchronisation per invocation, on every backend present.
/// </summary>
[Config(typeof(BenchConfig))]
public class KernelBenchmarks : IHasFlops
{
    private const int Batch = 64;
    private BackendSetup setup = null!;
    private KernelLibrary k = null!;
    private ArrayView<float> images, conv1, pool1, conv2, pool2, fc1, logits, dConv1, dPool1, dConv2, dPool2, dFc1, dLogits;
    private ArrayView<float> w1, b1, w2, b2, wf1, bf1, wf2, bf2, loss, correct, grads, m, v, parameters;
    private ArrayView<int> labels;

    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "cpu";

    public static IEnumerable<string> Backends() => BackendSetup.Present();

    private static readonly ConvShape Conv1 = SeedShapes.Conv1(Batch), Conv2 = SeedShapes.Conv2(Batch);
    private static readonly PoolShape Pool1 = SeedShapes.Pool1(Batch), Pool2 = SeedShapes.Pool2(Batch);
    private static readonly DenseShape Fc1 = SeedShapes.Fc1(Batch), Fc2 = SeedShapes.Fc2(Batch);

    [GlobalSetup]
    public void Setup()
    {
        setup = new BackendSetup(Backend);
        k = setup.Kernels;
        images = setup.Random(Conv1.InputSize);
        conv1 = setup.Random(Conv1.OutputSize); dConv1 = setup.Random(Conv1.OutputSize);
        pool1 = setup.Random(Pool1.OutputSize); dPool1 = setup.Random(Pool1.OutputSize);
        conv2 = setup.Random(Conv2.OutputSize); dConv2 = setup.Random(Conv2.OutputSize);
        pool2 = setup.Random(Pool2.OutputSize); dPool2 = setup.Random(Pool2.OutputSize);
        fc1 = setup.Random(Fc1.OutputSize); dFc1 = setup.Random(Fc1.OutputSize);
        logits = setup.Random(Fc2.OutputSize); dLogits = setup.Random(Fc2.OutputSize);
        w1 = setup.Random(Conv1.WeightSize, 0.5f); b1 = setup.Random(Conv1.OutChannels);
        w2 = setup.Random(Conv2.WeightSize, 0.1f); b2 = setup.Random(Conv2.OutChannels);
        wf1 = setup.Random(Fc1.WeightSize, 0.05f); bf1 = setup.Random(Fc1.Outputs);
        wf2 = setup.Random(Fc2.WeightSize, 0.2f); bf2 = setup.Random(Fc2.Outputs);
        loss = setup.Random(Batch); correct = setup.Random(Batch);
        labels = setup.Labels(Batch, 10);
        int count = SeedShapes.Parameters;
        parameters = setup.Random(count); grads = setup.Random(count); m = setup.Random(count); v = setup.Random(count, 0.01f);
    }

    [GlobalCleanup]
    public void Cleanup() => setup.Dispose();

    [Benchmark] public void Conv1Forward() { k.Conv.Forward(Conv1, images, w1, b1, conv1); Sync(); }
    [Benchmark] public void Conv1BackwardWeight() { k.Conv.BackwardWeight(Conv1, dConv1, images, w1); Sync(); }
    [Benchmark] public void Conv1BackwardBias() { k.Conv.BackwardBias(Conv1, dConv1, b1); Sync(); }
    [Benchmark] public void Conv2Forward() { k.Conv.Forward(Conv2, pool1, w2, b2, conv2); Sync(); }
    [Benchmark] public void Conv2BackwardInput() { k.Conv.BackwardInput(Conv2, dConv2, w2, dPool1); Sync(); }
    [Benchmark] public void Conv2BackwardWeight() { k.Conv.BackwardWeight(Conv2, dConv2, pool1, w2); Sync(); }
    [Benchmark] public void Conv2BackwardBias() { k.Conv.BackwardBias(Conv2, dConv2, b2); Sync(); }
    [Benchmark] public void Pool1Forward() { k.Pool.Forward(Pool1, conv1, pool1); Sync(); }
    [Benchmark] public void Pool1Backward() { k.Pool.Backward(Pool1, conv1, dPool1, dConv1); Sync(); }
    [Benchmark] public void Relu1Backward() { k.Relu.Backward(Conv1.OutputSize, conv1, dConv1, dConv1); Sync(); }
    [Benchmark] public void Fc1Forward() { k.Dense.Forward(Fc1, pool2, wf1, bf1, fc1); Sync(); }
    [Benchmark] public void Fc1BackwardInput() { k.Dense.BackwardInput(Fc1, dFc1, wf1, dPool2); Sync(); }
    [Benchmark] public void Fc1BackwardWeight() { k.Dense.BackwardWeight(Fc1, dFc1, pool2, wf1); Sync(); }
    [Benchmark] public void Fc2Forward() { k.Dense.Forward(Fc2, fc1, wf2, bf2, logits); Sync(); }
    [Benchmark] public void SoftmaxCrossEntropy() { k.Loss.ForwardBackward(new LossShape(Batch, 10), logits, labels, loss, correct, dLogits); Sync(); }
    [Benchmark] public void Dropout1() { k.Dropout.Forward(Pool2.OutputSize, new DropoutMask(1, 2, 0.25f), pool2, pool2); Sync(); }
    [Benchmark] public void AdamUpdate() { k.Adam.Update(SeedShapes.Parameters, new AdamSettings().ForStep(10), parameters, grads, m, v); Sync(); }

    private void Sync() => setup.Accelerator.Synchronize();

    public double Flops(string method) => method switch
    {
        nameof(Conv1Forward) or nameof(Conv1BackwardWeight) => 2.0 * Conv1.MultiplyAdds,
        nameof(Conv2Forward) or nameof(Conv2BackwardInput) or nameof(Conv2BackwardWeight) => 2.0 * Conv2.MultiplyAdds,
        nameof(Fc1Forward) or nameof(Fc1BackwardInput) or nameof(Fc1BackwardWeight) => 2.0 * Fc1.MultiplyAdds,
        nameof(Fc2Forward) => 2.0 * Fc2.MultiplyAdds,
        _ => 0,
    };
}
