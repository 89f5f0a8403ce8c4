using FashionGpu.Kernels.Reference;
using ILGPU;
using ILGPU.Runtime;

namespace FashionGpu.Kernels.Verification;

/// <summary>
/// How far one kernel output is from the reference. Each element must satisfy
/// |kernel - reference| &lt;= AbsTolerance * Scale + RelTolerance * |reference|, where Scale is
/// the largest |reference| of the tensor: the absolute part sits far below the values' own
/// size (float32 sums carry ~1e-7 of it), so a 1% error anywhere fails, small tensors included.
/// </summary>
public sealed record CheckResult(string Kernel, string Shape, double MaxAbsError, double Scale, double WorstRatio)
{
    public const double AbsTolerance = 1e-5, RelTolerance = 1e-4;

    public const string Rule = "|kernel - reference| <= 1e-5 * max|reference| + 1e-4 * |reference| per element";

    /// <summary>The largest error as a multiple of its element's tolerance: at most 1 passes.</summary>
    public bool Passed => WorstRatio <= 1;
}

/// <summary>One kernel (forward and its backward passes) at one shape, checked against <see cref="ReferenceOps"/>.</summary>
public sealed record KernelCheck(string Name, string Shape, Func<KernelLibrary, IReadOnlyList<CheckResult>> Run)
{
    public override string ToString() => $"{Name} {Shape}";
}

/// <summary>
/// The kernel-versus-reference checks shared by the NUnit tests and <c>fashiongpu selftest</c>.
/// Inputs are random with a fixed seed; the reference runs in double on the same float inputs.
/// </summary>
public static class KernelChecks
{
    /// <summary>Odd shapes (batch 1 and 3, 5x7 images, 3 channels, channel counts no tile divides) and the training shapes.</summary>
    public static IReadOnlyList<KernelCheck> Standard() =>
    [
        Conv(new ConvShape(3, 3, 5, 5, 7, 3, 3)),
        Conv(new ConvShape(1, 2, 7, 6, 5, 2, 3)),
        Conv(new ConvShape(3, 7, 37, 9, 8, 3, 2)), // more channels than one 4 x 8-lane tile, remainders everywhere
        Conv(new ConvShape(2, 1, 45, 7, 6, 2, 2)), // few taps, many channels (lanes over channels in backward weight), 45 = 32 + 13
        Conv(new ConvShape(4, 1, 32, 28, 28, 3, 3)),
        Conv(new ConvShape(4, 32, 64, 13, 13, 3, 3)),
        Pool(new PoolShape(3, 5, 5, 7), ties: false),
        Pool(new PoolShape(1, 3, 4, 6), ties: true),
        Pool(new PoolShape(2, 32, 26, 26), ties: false),
        Pool(new PoolShape(2, 64, 11, 11), ties: false),
        Pool(new PoolShape(2, 32, 26, 26, 12, 12), ties: false), // the seed's pool1 as Model trims it
        Pool(new PoolShape(3, 5, 9, 7, 3, 2), ties: true),
        Relu(1001),
        Dropout(1003, 0.25f),
        Dropout(12345, 0.5f),
        Dropout(777, 0f),
        Dense(new DenseShape(3, 7, 5)),
        Dense(new DenseShape(1, 13, 3)),
        Dense(new DenseShape(5, 45, 70)),
        Dense(new DenseShape(8, 1600, 128)),
        Dense(new DenseShape(8, 128, 10)),
        Loss(new LossShape(3, 10), extremeLogits: false),
        Loss(new LossShape(64, 10), extremeLogits: true),
        Adam(1001, 1),
        Adam(1001, 10),
        Gather(batch: 5, images: 11, pixelsPerImage: 35),
        Fill(999),
        Pad(new PadShape(3, 2, 5, 7, 1)),
        Pad(new PadShape(1, 3, 4, 3, 2)),
        Pad(new PadShape(2, 32, 14, 14, 1)),
        BatchNorm(new BatchNormShape(3, 5, 35), relu: false),
        BatchNorm(new BatchNormShape(2, 7, 9), relu: true),
        BatchNorm(new BatchNormShape(4, 32, 196), relu: true),
        BatchNorm(new BatchNormShape(5, 70, 1), relu: false), // after a dense layer
        Augment(batch: 6, images: 9, size: 7, shift: 2, flip: true),
        Augment(batch: 9, images: 40, size: 28, shift: 3, flip: false),
        Augment(batch: 4, images: 5, size: 5, shift: 0, flip: true),
        WeightDecay(1001),
    ];

    public static KernelCheck Conv(ConvShape s) => new("conv2d", s.ToString(), k =>
    {
        var rng = new Random(11);
        var input = Random(rng, s.InputSize, 0, 1);
        var weight = Random(rng, s.WeightSize, -0.5, 0.5);
        var bias = Random(rng, s.OutChannels, -0.5, 0.5);
        var dOut = Random(rng, s.OutputSize, -1, 1);
        using var dev = new DeviceScope(k.Accelerator);
        var vIn = dev.Upload(input); var vW = dev.Upload(weight); var vB = dev.Upload(bias); var vDOut = dev.Upload(dOut);
        var vOut = dev.Allocate(s.OutputSize); var vDIn = dev.Allocate(s.InputSize);
        var vDW = dev.Allocate(s.WeightSize); var vDB = dev.Allocate(s.OutChannels);
        var vOutRelu = dev.Allocate(s.OutputSize);
        var vDW2 = dev.Allocate(s.WeightSize); var vDB2 = dev.Allocate(s.OutChannels);
        k.Conv.Forward(s, vIn, vW, vB, vOut);
        k.Conv.ForwardRelu(s, vIn, vW, vB, vOutRelu);
        k.Conv.BackwardInput(s, vDOut, vW, vDIn);
        k.Conv.BackwardWeight(s, vDOut, vIn, vDW);
        k.Conv.BackwardBias(s, vDOut, vDB);
        k.Conv.BackwardWeightAndBias(s, vDOut, vIn, vDW2, vDB2);
        var expected = ReferenceOps.ConvForward(s, input, weight, bias);
        var (dIn, dW, dB) = ReferenceOps.ConvBackward(s, input, weight, dOut);
        string shape = s.ToString();
        return
        [
            Compare("conv2d forward", shape, dev.Download(vOut), expected),
            Compare("conv2d+relu forward", shape, dev.Download(vOutRelu), ReferenceOps.ReluForward(expected)),
            Compare("conv2d d/input", shape, dev.Download(vDIn), dIn),
            Compare("conv2d d/weight", shape, dev.Download(vDW), dW),
            Compare("conv2d d/bias", shape, dev.Download(vDB), dB),
            Compare("conv2d d/weight (with bias)", shape, dev.Download(vDW2), dW),
            Compare("conv2d d/bias (with weight)", shape, dev.Download(vDB2), dB),
        ];
    });

    /// <param name="ties">Use a few small integers so windows hold equal maxima (the first one must win).</param>
    public static KernelCheck Pool(PoolShape s, bool ties) => new("maxpool2x2", s + (ties ? " ties" : ""), k =>
    {
        var rng = new Random(12);
        var input = ties ? Enumerable.Range(0, s.InputSize).Select(_ => (double)rng.Next(3)).ToArray() : Random(rng, s.InputSize, -1, 1);
        var dOut = Random(rng, s.OutputSize, -1, 1);
        using var dev = new DeviceScope(k.Accelerator);
        var vIn = dev.Upload(input); var vDOut = dev.Upload(dOut);
        var vOut = dev.Allocate(s.OutputSize); var vDIn = dev.Allocate(s.InputSize);
        k.Pool.Forward(s, vIn, vOut);
        k.Pool.Backward(s, vIn, vDOut, vDIn);
        // ReLU then pooling, backward in one kernel: about half of the ReLU outputs are 0, so
        // whole windows of zeros (ties at 0, gradient 0) occur as well as positive winners.
        var reluIn = ReferenceOps.ReluForward(ties ? input.Select(v => v - 1).ToArray() : input);
        var vReluIn = dev.Upload(reluIn); var vDReluIn = dev.Allocate(s.InputSize);
        k.Pool.BackwardRelu(s, vReluIn, vDOut, vDReluIn);
        string shape = s + (ties ? " ties" : "");
        return
        [
            Compare("maxpool forward", shape, dev.Download(vOut), ReferenceOps.MaxPoolForward(s, input)),
            Compare("maxpool backward", shape, dev.Download(vDIn), ReferenceOps.MaxPoolBackward(s, input, dOut)),
            Compare("relu+maxpool backward", shape, dev.Download(vDReluIn),
                ReferenceOps.ReluBackward(reluIn, ReferenceOps.MaxPoolBackward(s, reluIn, dOut))),
        ];
    });

    public static KernelCheck Relu(int n) => new("relu", $"N{n}", k =>
    {
        var rng = new Random(13);
        var input = Random(rng, n, -1, 1);
        input[0] = 0; // the kink: forward 0, gradient 0
        var dOut = Random(rng, n, -1, 1);
        using var dev = new DeviceScope(k.Accelerator);
        var vIn = dev.Upload(input); var vDOut = dev.Upload(dOut);
        var vOut = dev.Allocate(n); var vDIn = dev.Allocate(n);
        k.Relu.Forward(n, vIn, vOut);
        k.Relu.Backward(n, vIn, vDOut, vDIn);
        return
        [
            Compare("relu forward", $"N{n}", dev.Download(vOut), ReferenceOps.ReluForward(input)),
            Compare("relu backward", $"N{n}", dev.Download(vDIn), ReferenceOps.ReluBackward(input, dOut)),
        ];
    });

    public static KernelCheck Dropout(int n, float p) => new("dropout", $"N{n} p{p}", k =>
    {
        var rng = new Random(14);
        var input = Random(rng, n, -1, 1);
        var dOut = Random(rng, n, -1, 1);
        var mask = new DropoutMask(Seed: 1234567u, Step: 42u, P: p);
        using var dev = new DeviceScope(k.Accelerator);
        var vIn = dev.Upload(input); var vDOut = dev.Upload(dOut);
        var vOut = dev.Allocate(n); var vDIn = dev.Allocate(n);
        k.Dropout.Forward(n, mask, vIn, vOut);
        k.Dropout.Backward(n, mask, vDOut, vDIn);
        string shape = $"N{n} p{p}";
        return
        [
            Compare("dropout forward", shape, dev.Download(vOut), ReferenceOps.Dropout(mask, input)),
            Compare("dropout backward", shape, dev.Download(vDIn), ReferenceOps.Dropout(mask, dOut)),
        ];
    });

    public static KernelCheck Dense(DenseShape s) => new("dense", s.ToString(), k =>
    {
        var rng = new Random(15);
        var x = Random(rng, s.InputSize, -1, 1);
        var weight = Random(rng, s.WeightSize, -0.5, 0.5);
        var bias = Random(rng, s.Outputs, -0.5, 0.5);
        var dy = Random(rng, s.OutputSize, -1, 1);
        using var dev = new DeviceScope(k.Accelerator);
        var vX = dev.Upload(x); var vW = dev.Upload(weight); var vB = dev.Upload(bias); var vDy = dev.Upload(dy);
        var vY = dev.Allocate(s.OutputSize); var vDx = dev.Allocate(s.InputSize);
        var vDW = dev.Allocate(s.WeightSize); var vDB = dev.Allocate(s.Outputs); var vYRelu = dev.Allocate(s.OutputSize);
        var vDW2 = dev.Allocate(s.WeightSize); var vDB2 = dev.Allocate(s.Outputs);
        k.Dense.Forward(s, vX, vW, vB, vY);
        k.Dense.ForwardRelu(s, vX, vW, vB, vYRelu);
        k.Dense.BackwardInput(s, vDy, vW, vDx);
        k.Dense.BackwardWeight(s, vDy, vX, vDW);
        k.Dense.BackwardBias(s, vDy, vDB);
        k.Dense.BackwardWeightAndBias(s, vDy, vX, vDW2, vDB2);
        var (dx, dW, db) = ReferenceOps.DenseBackward(s, x, weight, dy);
        string shape = s.ToString();
        return
        [
            Compare("dense forward", shape, dev.Download(vY), ReferenceOps.DenseForward(s, x, weight, bias)),
            Compare("dense+relu forward", shape, dev.Download(vYRelu), ReferenceOps.ReluForward(ReferenceOps.DenseForward(s, x, weight, bias))),
            Compare("dense d/input", shape, dev.Download(vDx), dx),
            Compare("dense d/weight", shape, dev.Download(vDW), dW),
            Compare("dense d/bias", shape, dev.Download(vDB), db),
            Compare("dense d/weight (with bias)", shape, dev.Download(vDW2), dW),
            Compare("dense d/bias (with weight)", shape, dev.Download(vDB2), db),
        ];
    });

    /// <param name="extremeLogits">Logits up to +-80, where exp without the max subtracted would overflow float.</param>
    public static KernelCheck Loss(LossShape s, bool extremeLogits) => new("softmax-xent", s + (extremeLogits ? " extreme" : ""), k =>
    {
        var rng = new Random(16);
        double range = extremeLogits ? 80 : 3;
        var logits = Random(rng, s.Batch * s.Classes, -range, range);
        var labels = Enumerable.Range(0, s.Batch).Select(_ => rng.Next(s.Classes)).ToArray();
        using var dev = new DeviceScope(k.Accelerator);
        var vLogits = dev.Upload(logits); var vLabels = dev.Upload(labels);
        var vLoss = dev.Allocate(s.Batch); var vCorrect = dev.Allocate(s.Batch);
        var vGrad = dev.Allocate(s.Batch * s.Classes); var vTotals = dev.Allocate(4);
        k.Loss.ForwardBackward(s, vLogits, vLabels, vLoss, vCorrect, vGrad);
        k.Loss.SumBatch(s.Batch, 1, vLoss, vCorrect, vTotals);
        var (loss, correct, grad) = ReferenceOps.SoftmaxCrossEntropy(s, logits, labels);
        var totals = dev.Download(vTotals);
        string shape = s + (extremeLogits ? " extreme" : "");
        return
        [
            Compare("softmax-xent loss", shape, dev.Download(vLoss), loss),
            Compare("softmax-xent correct", shape, dev.Download(vCorrect), correct),
            Compare("softmax-xent d/logits", shape, dev.Download(vGrad), grad),
            Compare("softmax-xent batch sums", shape, totals[2..4], [loss.Sum(), correct.Sum()]),
        ];
    });

    public static KernelCheck Adam(int n, long step) => new("adam", $"N{n} t{step}", k =>
    {
        var rng = new Random(17);
        var parameters = Random(rng, n, -1e-3, 1e-3);
        var gradients = Random(rng, n, -1, 1);
        var m = Random(rng, n, -0.1, 0.1);
        var v = Random(rng, n, 0, 0.01);
        var settings = new AdamSettings();
        using var dev = new DeviceScope(k.Accelerator);
        var vP = dev.Upload(parameters); var vG = dev.Upload(gradients); var vM = dev.Upload(m); var vV = dev.Upload(v);
        k.Adam.Update(n, settings.ForStep(step), vP, vG, vM, vV);
        var (p2, m2, v2) = ReferenceOps.AdamUpdate(settings, step, parameters, gradients, m, v);
        string shape = $"N{n} t{step}";
        // The update itself (new - old parameters, ~1e-3) is what is compared, not the parameters
        // (~1), next to which a wrong update would vanish; parameters as small as the update keep
        // float32's rounding of the new values far below the tolerance.
        var updated = dev.Download(vP);
        return
        [
            Compare("adam update", shape, updated.Select((x, i) => (float)(x - parameters[i])).ToArray(), p2.Select((x, i) => x - parameters[i]).ToArray()),
            Compare("adam m", shape, dev.Download(vM), m2),
            Compare("adam v", shape, dev.Download(vV), v2),
        ];
    });

    public static KernelCheck Gather(int batch, int images, int pixelsPerImage) => new("gather", $"B{batch} of {images} P{pixelsPerImage}", k =>
    {
        var rng = new Random(18);
        var pixels = new byte[images * pixelsPerImage];
        rng.NextBytes(pixels);
        var classes = Enumerable.Range(0, images).Select(_ => (byte)rng.Next(10)).ToArray();
        var indices = Enumerable.Range(0, batch).Select(_ => rng.Next(images)).ToArray();
        using var dev = new DeviceScope(k.Accelerator);
        var vPixels = dev.Upload(pixels); var vClasses = dev.Upload(classes); var vIndices = dev.Upload(indices);
        var vImages = dev.Allocate(batch * pixelsPerImage); var vLabels = dev.AllocateInt(batch);
        var vAll = dev.Allocate(pixels.Length);
        k.Ops.GatherBatch(batch, pixelsPerImage, vPixels, vClasses, vIndices, vImages, vLabels);
        k.Ops.BytesToFloats(pixels.Length, vPixels, vAll);
        var expectedImages = new double[batch * pixelsPerImage];
        for (int b = 0; b < batch; b++)
            for (int p = 0; p < pixelsPerImage; p++)
                expectedImages[b * pixelsPerImage + p] = pixels[indices[b] * pixelsPerImage + p] / 255.0;
        string shape = $"B{batch} of {images} P{pixelsPerImage}";
        return
        [
            Compare("gather images", shape, dev.Download(vImages), expectedImages),
            Compare("gather labels", shape, dev.Download(vLabels).Select(l => (float)l).ToArray(), indices.Select(i => (double)classes[i]).ToArray()),
            Compare("bytes to floats", $"N{pixels.Length}", dev.Download(vAll), pixels.Select(p => p / 255.0).ToArray()),
        ];
    });

    public static KernelCheck Pad(PadShape s) => new("pad2d", s.ToString(), k =>
    {
        var rng = new Random(19);
        var input = Random(rng, s.InputSize, -1, 1);
        var dOut = Random(rng, s.OutputSize, -1, 1);
        using var dev = new DeviceScope(k.Accelerator);
        var vIn = dev.Upload(input); var vDOut = dev.Upload(dOut);
        var vOut = dev.Allocate(s.OutputSize); var vDIn = dev.Allocate(s.InputSize);
        k.Pad.Forward(s, vIn, vOut);
        k.Pad.Backward(s, vDOut, vDIn);
        return
        [
            Compare("pad2d forward", s.ToString(), dev.Download(vOut), ReferenceOps.Pad(s, input)),
            Compare("pad2d backward", s.ToString(), dev.Download(vDIn), ReferenceOps.PadBackward(s, dOut)),
        ];
    });

    /// <summary>Training forward (and the running statistics it updates), evaluation forward with those, and the backward pass.</summary>
    public static KernelCheck BatchNorm(BatchNormShape s, bool relu) => new("batchnorm", s + (relu ? " relu" : ""), k =>
    {
        var rng = new Random(20);
        // Per-channel offsets and scales, so the statistics matter.
        var x = Random(rng, s.Size, -1, 1).Select((v, i) => (double)(float)(v * (1 + i / s.Plane % s.Channels) + 0.5 * (i / s.Plane % s.Channels))).ToArray();
        var gamma = Random(rng, s.Channels, 0.5, 1.5);
        var beta = Random(rng, s.Channels, -0.5, 0.5);
        var runningMean = Random(rng, s.Channels, -0.2, 0.2);
        var runningVar = Random(rng, s.Channels, 0.5, 2);
        var dy = Random(rng, s.Size, -1, 1);
        using var dev = new DeviceScope(k.Accelerator);
        var vX = dev.Upload(x); var vGamma = dev.Upload(gamma); var vBeta = dev.Upload(beta);
        var vMean = dev.Upload(runningMean); var vVar = dev.Upload(runningVar); var vTracked = dev.Upload([3.0]);
        var vDy = dev.Upload(dy); var vStats = dev.Allocate(2 * s.Channels); var vScratch = dev.Allocate(FashionGpu.Kernels.BatchNorm.ScratchSize(s)); var vEvalStats = dev.Allocate(2 * s.Channels);
        var vY = dev.Allocate(s.Size); var vYEval = dev.Allocate(s.Size);
        var vDx = dev.Allocate(s.Size); var vDGamma = dev.Allocate(s.Channels); var vDBeta = dev.Allocate(s.Channels);
        k.BatchNorm.Forward(s, training: true, relu, vX, vGamma, vBeta, vMean, vVar, vTracked, vStats, vScratch, vY);
        k.BatchNorm.Backward(s, vX, vDy, vStats, vScratch, vGamma, vDGamma, vDBeta, vDx);
        k.BatchNorm.Forward(s, training: false, relu, vX, vGamma, vBeta, vMean, vVar, vTracked, vEvalStats, vScratch, vYEval);
        var (y, mean, variance) = ReferenceOps.BatchNormTrain(s, x, gamma, beta);
        var (newMean, newVar) = ReferenceOps.BatchNormRunning(s, mean, variance, runningMean, runningVar);
        var yEval = ReferenceOps.BatchNormEval(s, x, gamma, beta, newMean, newVar);
        var (dx, dGamma, dBeta) = ReferenceOps.BatchNormBackward(s, x, gamma, dy);
        string shape = s + (relu ? " relu" : "");
        double[] Activation(double[] v) => relu ? ReferenceOps.ReluForward(v) : v;
        return
        [
            Compare("batchnorm forward (training)", shape, dev.Download(vY), Activation(y)),
            Compare("batchnorm running_mean", shape, dev.Download(vMean), newMean),
            Compare("batchnorm running_var", shape, dev.Download(vVar), newVar),
            Compare("batchnorm num_batches_tracked", shape, dev.Download(vTracked), [4]),
            Compare("batchnorm forward (evaluation)", shape, dev.Download(vYEval), Activation(yEval)),
            Compare("batchnorm d/input", shape, dev.Download(vDx), dx),
            Compare("batchnorm d/weight", shape, dev.Download(vDGamma), dGamma),
            Compare("batchnorm d/bias", shape, dev.Download(vDBeta), dBeta),
        ];
    });

    public static KernelCheck Augment(int batch, int images, int size, int shift, bool flip) =>
        new("augment", $"B{batch} of {images} {size}x{size} shift{shift}{(flip ? " flip" : "")}", k =>
    {
        var rng = new Random(21);
        var pixels = new byte[images * size * size];
        rng.NextBytes(pixels);
        var classes = Enumerable.Range(0, images).Select(_ => (byte)rng.Next(10)).ToArray();
        var indices = Enumerable.Range(0, batch).Select(_ => rng.Next(images)).ToArray();
        var a = new Augmentation(Seed: 987654321u, Epoch: 3u, shift, flip ? 1 : 0);
        using var dev = new DeviceScope(k.Accelerator);
        var vPixels = dev.Upload(pixels); var vClasses = dev.Upload(classes); var vIndices = dev.Upload(indices);
        var vImages = dev.Allocate(batch * size * size); var vLabels = dev.AllocateInt(batch);
        k.Augment.Gather(batch, size, a, vPixels, vClasses, vIndices, vImages, vLabels);
        string shape = $"B{batch} of {images} {size}x{size} shift{shift}{(flip ? " flip" : "")}";
        return
        [
            Compare("augment images", shape, dev.Download(vImages), ReferenceOps.Augment(size, a.Seed, a.Epoch, shift, flip, pixels, indices)),
            Compare("augment labels", shape, dev.Download(vLabels).Select(l => (float)l).ToArray(), indices.Select(i => (double)classes[i]).ToArray()),
        ];
    });

    public static KernelCheck WeightDecay(int n) => new("weight-decay", $"N{n}", k =>
    {
        var values = Random(new Random(22), n, -1, 1);
        // A factor far from 1 (lr * decay = 0.1), so a missing or wrong decay is far outside the tolerance.
        const float Factor = 0.9f;
        using var dev = new DeviceScope(k.Accelerator);
        var v = dev.Upload(values);
        k.Adam.Scale(n, Factor, v);
        return [Compare("weight decay", $"N{n}", dev.Download(v), ReferenceOps.WeightDecay(values, Factor))];
    });

    public static KernelCheck Fill(int n) => new("fill", $"N{n}", k =>
    {
        using var dev = new DeviceScope(k.Accelerator);
        var v = dev.Allocate(n);
        k.Ops.Fill(n, 0.375f, v);
        return [Compare("fill", $"N{n}", dev.Download(v), Enumerable.Repeat(0.375, n).ToArray())];
    });

    /// <summary>The errors against <see cref="CheckResult"/>'s tolerance; a length mismatch or a NaN counts as infinitely wrong.</summary>
    public static CheckResult Compare(string kernel, string shape, float[] actual, double[] expected)
    {
        double scale = expected.Length == 0 ? 0 : expected.Max(Math.Abs);
        if (actual.Length != expected.Length) return new CheckResult(kernel, shape, double.PositiveInfinity, scale, double.PositiveInfinity);
        // An all-zero reference leaves no scale: then the kernel must give exact zeros.
        double atol = scale > 0 ? CheckResult.AbsTolerance * scale : double.Epsilon;
        double maxAbs = 0, worst = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (double.IsNaN(err)) err = double.PositiveInfinity;
            maxAbs = Math.Max(maxAbs, err);
            worst = Math.Max(worst, err / (atol + CheckResult.RelTolerance * Math.Abs(expected[i])));
        }
        return new CheckResult(kernel, shape, maxAbs, scale, worst);
    }

    /// <summary>Uniform random values, rounded to float so kernel and reference see the same inputs.</summary>
    public static double[] Random(Random rng, int n, double lo, double hi) =>
        Enumerable.Range(0, n).Select(_ => (double)(float)(lo + (hi - lo) * rng.NextDouble())).ToArray();
}

/// <summary>Device buffers for one check, freed together; downloads synchronise the accelerator.</summary>
public sealed class DeviceScope(Accelerator accelerator) : IDisposable
{
    private readonly List<MemoryBuffer> buffers = [];

    public ArrayView<float> Upload(double[] values) => Track(accelerator.Allocate1D(values.Select(v => (float)v).ToArray())).View;
    public ArrayView<int> Upload(int[] values) => Track(accelerator.Allocate1D(values)).View;
    public ArrayView<byte> Upload(byte[] values) => Track(accelerator.Allocate1D(values)).View;
    public ArrayView<float> Allocate(int n) => Fresh<float>(n);
    public ArrayView<int> AllocateInt(int n) => Fresh<int>(n);

    public float[] Download(ArrayView<float> view) { accelerator.Synchronize(); return view.GetAsArray(); }
    public int[] Download(ArrayView<int> view) { accelerator.Synchronize(); return view.GetAsArray(); }

    /// <summary>Filled with 0x7F bytes (3.4e38 as float) so a kernel that skips an element cannot pass by luck.</summary>
    private ArrayView<T> Fresh<T>(int n) where T : unmanaged
    {
        var buffer = Track(accelerator.Allocate1D<T>(n));
        buffer.View.AsContiguous().MemSet(0x7F);
        return buffer.View;
    }

    private MemoryBuffer1D<T, Stride1D.Dense> Track<T>(MemoryBuffer1D<T, Stride1D.Dense> buffer) where T : unmanaged
    {
        buffers.Add(buffer);
        return buffer;
    }

    public void Dispose()
    {
        accelerator.Synchronize();
        foreach (var b in buffers) b.Dispose();
    }
}
