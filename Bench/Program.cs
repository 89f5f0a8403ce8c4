using FashionGpu.Bench.Benchmarks;
using System.Diagnostics;
using FashionGpu.Kernels;
using FashionGpu.Training.Model;
using ILGPU;
using ILGPU.Runtime;

// Usage: Bench bdn [BenchmarkDotNet options, e.g. --filter '*']   the BenchmarkDotNet suite (README)
//        Bench [kernels] [opencl|cpu ...] [--variant NAME]       quick probes while tuning:
//   default: ms/step and samples/s of a whole training step at batch 64 per backend;
//   kernels: each Conv2d/Dense call at the training shapes, timed over N launches with one Synchronize.
if (args.Length > 0 && args[0] == "bdn")
{
    BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(FashionGpu.Bench.Benchmarks.BenchConfig).Assembly).Run(args[1..]);
    return;
}
bool perKernel = args.Contains("kernels");
string? variantName = null;
var rest = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--variant" && i + 1 < args.Length) variantName = args[++i];
    else if (args[i] != "kernels") rest.Add(args[i]);
}
GemmVariant? variant = variantName is null ? null : Enum.Parse<GemmVariant>(variantName, ignoreCase: true);

using var catalog = new DeviceCatalog();
foreach (var kindName in rest.Count > 0 ? rest : ["opencl", "cpu"])
{
    DeviceEntry.TryParseKind(kindName, out var kind);
    using var acc = catalog.Create(catalog.Select(kind));
    var k = new KernelLibrary(acc, variant);
    if (perKernel) { TimeKernels(kindName, acc, k); continue; }
    using var bench = new FashionGpu.Training.StepBenchmark(k, 64);
    double ms = bench.MedianMilliseconds(rounds: 3, steps: 5);
    Console.WriteLine($"{kindName} [{k.Policy.Gemm}]: {ms:0.0} ms/step, {64 / ms * 1000:0} samples/s");
}

static void TimeKernels(string name, Accelerator acc, KernelLibrary k)
{
    const int B = 64;
    var rng = new Random(2);
    var buffers = new List<MemoryBuffer>();
    ArrayView<float> Buf(long n)
    {
        var b = acc.Allocate1D(Enumerable.Range(0, (int)n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray());
        buffers.Add(b);
        return b.View;
    }
    void Time(string what, long multiplyAdds, Action launch)
    {
        launch(); acc.Synchronize();
        int n = 3;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < n; i++) launch();
        acc.Synchronize();
        double ms = sw.Elapsed.TotalMilliseconds / n;
        Console.WriteLine($"{name} [{k.Policy.Gemm}] {what,-28} {ms,8:0.00} ms {(multiplyAdds > 0 ? $"{2 * multiplyAdds / ms / 1e6,6:0.0} GFLOP/s" : "")}");
    }
    foreach (var s in new[] { SeedShapes.Conv1(B), SeedShapes.Conv2(B) })
    {
        var input = Buf(s.InputSize); var weight = Buf(s.WeightSize); var bias = Buf(s.OutChannels);
        var output = Buf(s.OutputSize); var dOut = Buf(s.OutputSize); var dIn = Buf(s.InputSize); var dW = Buf(s.WeightSize); var dB = Buf(s.OutChannels);
        string tag = s.InChannels == 1 ? "conv1" : "conv2";
        Time($"{tag} forward", s.MultiplyAdds, () => k.Conv.Forward(s, input, weight, bias, output));
        if (s.InChannels > 1) Time($"{tag} backward input", s.MultiplyAdds, () => k.Conv.BackwardInput(s, dOut, weight, dIn));
        Time($"{tag} backward weight", s.MultiplyAdds, () => k.Conv.BackwardWeight(s, dOut, input, dW));
        Time($"{tag} backward bias", 0, () => k.Conv.BackwardBias(s, dOut, dB));
        Time($"{tag} backward weight+bias", s.MultiplyAdds, () => k.Conv.BackwardWeightAndBias(s, dOut, input, dW, dB));
    }
    foreach (var s in new[] { SeedShapes.Fc1(B), SeedShapes.Fc2(B) })
    {
        var x = Buf(s.InputSize); var weight = Buf(s.WeightSize); var bias = Buf(s.Outputs);
        var y = Buf(s.OutputSize); var dy = Buf(s.OutputSize); var dx = Buf(s.InputSize); var dW = Buf(s.WeightSize); var dB = Buf(s.Outputs);
        string tag = s.Outputs == 10 ? "fc2" : "fc1";
        Time($"{tag} forward", s.MultiplyAdds, () => k.Dense.Forward(s, x, weight, bias, y));
        Time($"{tag} backward input", s.MultiplyAdds, () => k.Dense.BackwardInput(s, dy, weight, dx));
        Time($"{tag} backward weight", s.MultiplyAdds, () => k.Dense.BackwardWeight(s, dy, x, dW));
    }
    var p1 = SeedShapes.Pool1(B);
    var pin = Buf(p1.InputSize); var pout = Buf(p1.OutputSize); var pdin = Buf(p1.InputSize);
    Time("pool1 forward", 0, () => k.Pool.Forward(p1, pin, pout));
    Time("pool1 backward", 0, () => k.Pool.Backward(p1, pin, pout, pdin));
    Time("pool1+relu backward (fused)", 0, () => k.Pool.BackwardRelu(p1, pin, pout, pdin));
    Time("relu conv1 backward", 0, () => k.Relu.Backward(p1.InputSize, pin, pin, pdin));
    int parameterCount = SeedShapes.Parameters;
    var pa = Buf(parameterCount); var pg = Buf(parameterCount); var pm = Buf(parameterCount); var pv = Buf(parameterCount);
    Time("adam", 0, () => k.Adam.Update(parameterCount, new AdamSettings().ForStep(1), pa, pg, pm, pv));
    acc.Synchronize();
    foreach (var b in buffers) b.Dispose();
}
