using System.Diagnostics;
using FashionGpu.Kernels;
using FashionGpu.Training.Model;
using ILGPU;
using ILGPU.Runtime;

using var catalog = new DeviceCatalog();
foreach (var kindName in args.Length > 0 ? args : ["opencl", "cpu"])
{
    DeviceEntry.TryParseKind(kindName, out var kind);
    using var acc = catalog.Create(catalog.Select(kind));
    var k = new KernelLibrary(acc);
    int B = 64;
    using var net = new Network(k, B, 0.25f, 0.5f);
    acc.Allocate1D(ParameterLayout.Seed.GlorotUniform(1)).View.CopyTo(net.Parameters);
    var rng = new Random(1);
    net.Images.CopyFromCPU(Enumerable.Range(0, B * 784).Select(_ => (float)rng.NextDouble()).ToArray());
    net.Labels.CopyFromCPU(Enumerable.Range(0, B).Select(_ => rng.Next(10)).ToArray());
    using var totals = acc.Allocate1D<float>(2000);
    void Step(int s) {
        var m1 = new DropoutMask(1, (uint)s, 0.25f); var m2 = new DropoutMask(2, (uint)s, 0.5f);
        net.Forward(B, m1, m2); net.Loss(B, true, s, totals.View); net.Backward(B, m1, m2); net.AdamUpdate(new AdamSettings().ForStep(s + 1));
    }
    Step(0); acc.Synchronize();
    var sw = Stopwatch.StartNew(); int n = 5;
    for (int s = 1; s <= n; s++) Step(s);
    acc.Synchronize();
    Console.WriteLine($"{kindName}: {sw.Elapsed.TotalMilliseconds / n:0.0} ms/step, {B * n / sw.Elapsed.TotalSeconds:0} samples/s");
}
