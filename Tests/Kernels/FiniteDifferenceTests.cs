using FashionGpu.Kernels;
using FashionGpu.Kernels.Reference;
using FashionGpu.Kernels.Verification;
using NUnit.Framework;

namespace FashionGpu.Tests.Kernels;

/// <summary>
/// Every backward kernel against central finite differences of the double-precision
/// reference forward pass. The scalar is L = sum(r * forward(...)) for a random r, so the
/// backward kernel run with dOutput = r must give dL/d(each input). Step h = 1e-5 in double;
/// pass with the same rule as the reference checks (<see cref="CheckResult.Rule"/>).
/// </summary>
public sealed class FiniteDifferenceTests
{
    private const double H = 1e-5;

    public static IEnumerable<string> AllBackends => Backends.Names;

    /// <summary>The GEMM-shaped backward passes: every backend with every variant.</summary>
    public static IEnumerable<TestCaseData> AllVariants =>
        Backends.All.Select(p => new TestCaseData(p.Backend, p.Variant).SetName($"{{m}}({p.Backend}, {p.Variant})"));

    [TestCaseSource(nameof(AllVariants))]
    public void ConvBackwardMatchesNumericGradient(string backend, GemmVariant variant)
    {
        var k = Backends.Get(backend, variant);
        // 27 taps (the GEMM kernels), and 9 taps over one channel (conv1's shape: the direct kernels where a variant has them).
        foreach (var s in new[] { new ConvShape(3, 3, 5, 5, 7, 3, 3), new ConvShape(2, 1, 18, 7, 6, 3, 3) })
        {
            var rng = new Random(1);
            var input = KernelChecks.Random(rng, s.InputSize, -1, 1);
            var weight = KernelChecks.Random(rng, s.WeightSize, -1, 1);
            var bias = KernelChecks.Random(rng, s.OutChannels, -1, 1);
            var r = KernelChecks.Random(rng, s.OutputSize, -1, 1);
            using var dev = new DeviceScope(k.Accelerator);
            var vIn = dev.Upload(input); var vW = dev.Upload(weight); var vR = dev.Upload(r);
            var vDIn = dev.Allocate(s.InputSize); var vDW = dev.Allocate(s.WeightSize); var vDB = dev.Allocate(s.OutChannels);
            var vDW2 = dev.Allocate(s.WeightSize); var vDB2 = dev.Allocate(s.OutChannels);
            k.Conv.BackwardInput(s, vR, vW, vDIn);
            k.Conv.BackwardWeight(s, vR, vIn, vDW);
            k.Conv.BackwardBias(s, vR, vDB);
            k.Conv.BackwardWeightAndBias(s, vR, vIn, vDW2, vDB2);

            double L() => Dot(r, ReferenceOps.ConvForward(s, input, weight, bias));
            var dWeight = Numeric(weight, L);
            var dBias = Numeric(bias, L);
            AssertClose($"{s} d/input", dev.Download(vDIn), Numeric(input, L));
            AssertClose($"{s} d/weight", dev.Download(vDW), dWeight);
            AssertClose($"{s} d/bias", dev.Download(vDB), dBias);
            AssertClose($"{s} d/weight (with bias)", dev.Download(vDW2), dWeight);
            AssertClose($"{s} d/bias (with weight)", dev.Download(vDB2), dBias);
        }
    }

    [TestCaseSource(nameof(AllVariants))]
    public void DenseBackwardMatchesNumericGradient(string backend, GemmVariant variant)
    {
        var k = Backends.Get(backend, variant);
        var s = new DenseShape(3, 7, 5);
        var rng = new Random(2);
        var x = KernelChecks.Random(rng, s.InputSize, -1, 1);
        var weight = KernelChecks.Random(rng, s.WeightSize, -1, 1);
        var bias = KernelChecks.Random(rng, s.Outputs, -1, 1);
        var r = KernelChecks.Random(rng, s.OutputSize, -1, 1);
        using var dev = new DeviceScope(k.Accelerator);
        var vX = dev.Upload(x); var vW = dev.Upload(weight); var vR = dev.Upload(r);
        var vDx = dev.Allocate(s.InputSize); var vDW = dev.Allocate(s.WeightSize); var vDB = dev.Allocate(s.Outputs);
        k.Dense.BackwardInput(s, vR, vW, vDx);
        k.Dense.BackwardWeight(s, vR, vX, vDW);
        k.Dense.BackwardBias(s, vR, vDB);

        double L() => Dot(r, ReferenceOps.DenseForward(s, x, weight, bias));
        AssertClose("d/input", dev.Download(vDx), Numeric(x, L));
        AssertClose("d/weight", dev.Download(vDW), Numeric(weight, L));
        AssertClose("d/bias", dev.Download(vDB), Numeric(bias, L));
    }

    [TestCaseSource(nameof(AllBackends))]
    public void MaxPoolBackwardMatchesNumericGradient(string backend)
    {
        var k = Backends.Get(backend);
        var s = new PoolShape(3, 2, 5, 7); // odd sizes: the last row and column are dropped
        var rng = new Random(3);
        // Distinct values spaced well beyond 2h, so no window has a near-tie for the max.
        var input = Enumerable.Range(0, s.InputSize).OrderBy(_ => rng.Next()).Select(i => i * 0.01).ToArray();
        var r = KernelChecks.Random(rng, s.OutputSize, -1, 1);
        using var dev = new DeviceScope(k.Accelerator);
        var vIn = dev.Upload(input); var vR = dev.Upload(r); var vDIn = dev.Allocate(s.InputSize);
        k.Pool.Backward(s, vIn, vR, vDIn);
        AssertClose("d/input", dev.Download(vDIn), Numeric(input, () => Dot(r, ReferenceOps.MaxPoolForward(s, input))));
    }

    [TestCaseSource(nameof(AllBackends))]
    public void ReluBackwardMatchesNumericGradient(string backend)
    {
        var k = Backends.Get(backend);
        var rng = new Random(4);
        // Keep inputs away from the kink at 0, where the derivative is undefined.
        var input = KernelChecks.Random(rng, 257, -1, 1).Select(v => v + Math.Sign(v) * 0.01).ToArray();
        var r = KernelChecks.Random(rng, input.Length, -1, 1);
        using var dev = new DeviceScope(k.Accelerator);
        var vIn = dev.Upload(input); var vR = dev.Upload(r); var vDIn = dev.Allocate(input.Length);
        k.Relu.Backward(input.Length, vIn, vR, vDIn);
        AssertClose("d/input", dev.Download(vDIn), Numeric(input, () => Dot(r, ReferenceOps.ReluForward(input))));
    }

    [TestCaseSource(nameof(AllBackends))]
    public void DropoutBackwardMatchesNumericGradient(string backend)
    {
        var k = Backends.Get(backend);
        var rng = new Random(5);
        var input = KernelChecks.Random(rng, 301, -1, 1);
        var r = KernelChecks.Random(rng, input.Length, -1, 1);
        var mask = new DropoutMask(99u, 7u, 0.4f);
        using var dev = new DeviceScope(k.Accelerator);
        var vR = dev.Upload(r); var vDIn = dev.Allocate(input.Length);
        k.Dropout.Backward(input.Length, mask, vR, vDIn);
        AssertClose("d/input", dev.Download(vDIn), Numeric(input, () => Dot(r, ReferenceOps.Dropout(mask, input))));
    }

    [TestCaseSource(nameof(AllBackends))]
    public void SoftmaxCrossEntropyGradientMatchesNumericGradient(string backend)
    {
        var k = Backends.Get(backend);
        var s = new LossShape(3, 10);
        var rng = new Random(6);
        var logits = KernelChecks.Random(rng, s.Batch * s.Classes, -3, 3);
        int[] labels = [2, 9, 0];
        using var dev = new DeviceScope(k.Accelerator);
        var vLogits = dev.Upload(logits); var vLabels = dev.Upload(labels);
        var vLoss = dev.Allocate(s.Batch); var vCorrect = dev.Allocate(s.Batch); var vGrad = dev.Allocate(logits.Length);
        k.Loss.ForwardBackward(s, vLogits, vLabels, vLoss, vCorrect, vGrad);
        // The gradient is of the mean loss over the batch.
        AssertClose("d/logits", dev.Download(vGrad),
            Numeric(logits, () => ReferenceOps.SoftmaxCrossEntropy(s, logits, labels).Loss.Average()));
    }

    [TestCaseSource(nameof(AllBackends))]
    public void PadBackwardMatchesNumericGradient(string backend)
    {
        var k = Backends.Get(backend);
        var s = new PadShape(2, 3, 5, 4, 1);
        var rng = new Random(7);
        var input = KernelChecks.Random(rng, s.InputSize, -1, 1);
        var r = KernelChecks.Random(rng, s.OutputSize, -1, 1);
        using var dev = new DeviceScope(k.Accelerator);
        var vR = dev.Upload(r); var vDIn = dev.Allocate(s.InputSize);
        k.Pad.Backward(s, vR, vDIn);
        AssertClose("d/input", dev.Download(vDIn), Numeric(input, () => Dot(r, ReferenceOps.Pad(s, input))));
    }

    /// <summary>Training-mode batch norm, through its batch statistics: after a convolution (plane 6) and after a dense layer (plane 1).</summary>
    [TestCase("cpu", 6)]
    [TestCase("opencl", 6)]
    [TestCase("cpu", 1)]
    [TestCase("opencl", 1)]
    public void BatchNormBackwardMatchesNumericGradient(string backend, int plane)
    {
        var k = Backends.Get(backend);
        var s = new BatchNormShape(plane == 1 ? 7 : 3, 4, plane);
        var rng = new Random(8);
        var x = KernelChecks.Random(rng, s.Size, -1, 2);
        var gamma = KernelChecks.Random(rng, s.Channels, 0.5, 1.5);
        var beta = KernelChecks.Random(rng, s.Channels, -0.5, 0.5);
        var r = KernelChecks.Random(rng, s.Size, -1, 1);
        using var dev = new DeviceScope(k.Accelerator);
        var vX = dev.Upload(x); var vGamma = dev.Upload(gamma); var vBeta = dev.Upload(beta); var vR = dev.Upload(r);
        var vMean = dev.Upload(new double[s.Channels]); var vVar = dev.Upload(Enumerable.Repeat(1.0, s.Channels).ToArray()); var vTracked = dev.Upload([0.0]);
        var vStats = dev.Allocate(2 * s.Channels); var vScratch = dev.Allocate(BatchNorm.ScratchSize(s)); var vY = dev.Allocate(s.Size);
        var vDx = dev.Allocate(s.Size); var vDGamma = dev.Allocate(s.Channels); var vDBeta = dev.Allocate(s.Channels);
        k.BatchNorm.Forward(s, training: true, relu: false, vX, vGamma, vBeta, vMean, vVar, vTracked, vStats, vScratch, vY);
        k.BatchNorm.Backward(s, vX, vR, vStats, vScratch, vGamma, vDGamma, vDBeta, vDx);

        double L() => Dot(r, ReferenceOps.BatchNormTrain(s, x, gamma, beta).Y);
        AssertClose("d/input", dev.Download(vDx), Numeric(x, L));
        AssertClose("d/weight", dev.Download(vDGamma), Numeric(gamma, L));
        AssertClose("d/bias", dev.Download(vDBeta), Numeric(beta, L));
    }

    /// <summary>Central differences of <paramref name="loss"/> with respect to each element of <paramref name="x"/> (perturbed in place, then restored).</summary>
    private static double[] Numeric(double[] x, Func<double> loss)
    {
        var grad = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double keep = x[i];
            x[i] = keep + H; double up = loss();
            x[i] = keep - H; double down = loss();
            x[i] = keep;
            grad[i] = (up - down) / (2 * H);
        }
        return grad;
    }

    private static double Dot(double[] a, double[] b) => a.Zip(b, (p, q) => p * q).Sum();

    private static void AssertClose(string what, float[] kernel, double[] numeric)
    {
        Assert.That(numeric.Any(v => Math.Abs(v) > 1e-3), Is.True, $"{what}: the numeric gradient is all zero, the test would prove nothing");
        var result = KernelChecks.Compare(what, "", kernel, numeric);
        Assert.That(result.Passed, Is.True, $"{what}: max abs error {result.MaxAbsError:g3} against max |numeric| {result.Scale:g3}: {result.WorstRatio:0.00} x the tolerance");
    }
}
