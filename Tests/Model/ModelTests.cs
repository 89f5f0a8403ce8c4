using FashionGpu.Kernels;
using FashionGpu.Kernels.Reference;
using FashionGpu.Tests.Kernels;
using FashionGpu.Training;
using FashionGpu.Training.Model;
using FashionGpu.Training.Model.Layers;
using ILGPU.Runtime;
using NUnit.Framework;

namespace FashionGpu.Tests.Model;

/// <summary>Models built from layers: names, shapes, what is trained and what is only saved.</summary>
public sealed class ModelTests
{
    /// <summary>A state dict without FashionGpu's metadata (as PyTorch writes it) is read into the preset whose tensors it holds.</summary>
    [Test]
    public void AFileWithoutMetadataIsReadIntoThePresetItFitsAndANearMissIsNamedAgainstIt()
    {
        string dir = TestRun.TempDir();
        foreach (var preset in Presets.All)
        {
            var m = preset.Build(new TrainingConfig { Model = preset.Name });
            var tensors = m.Parameters.Tensors.Select(t => new FashionGpu.Training.Checkpoints.Tensor(t.Name, t.Shape, new float[t.Length]))
                .Concat(m.Buffers.Tensors.Select(t => new FashionGpu.Training.Checkpoints.Tensor(t.Name, t.Shape, new float[t.Length]))).ToList();
            string path = Path.Combine(dir, $"{preset.Name}.safetensors");
            FashionGpu.Training.Checkpoints.SafeTensors.Write(path, tensors, new Dictionary<string, string>());
            Assert.That(FashionGpu.Training.Checkpoints.ModelCheckpoint.Load(path).Model.Name, Is.EqualTo(preset.Name));

            tensors.RemoveAll(t => t.Name == "fc2.bias");
            FashionGpu.Training.Checkpoints.SafeTensors.Write(path, tensors, new Dictionary<string, string>());
            Assert.That(() => FashionGpu.Training.Checkpoints.ModelCheckpoint.Load(path), Throws.TypeOf<FashionGpu.Training.Checkpoints.CheckpointFileException>()
                .With.Message.Contains($"tensor fc2.bias is missing (model {preset.Name})"));
        }
    }

    [Test]
    public void SeedKeepsItsCheckpointNamesShapesAndOrder()
    {
        var m = Presets.Seed(new TrainingConfig());
        Assert.That(m.Parameters.Tensors.Select(t => $"{t.Name} [{string.Join(",", t.Shape)}]"), Is.EqualTo(new[]
        {
            "conv1.weight [32,1,3,3]", "conv1.bias [32]", "conv2.weight [64,32,3,3]", "conv2.bias [64]",
            "fc1.weight [128,1600]", "fc1.bias [128]", "fc2.weight [10,128]", "fc2.bias [10]",
        }));
        Assert.That(m.Buffers.Count, Is.Zero);
        Assert.That(m.Parameters.Count, Is.EqualTo(225_034));
    }

    [Test]
    public void BatchNormStatisticsAreBuffersNotParameters()
    {
        var m = Presets.Bn3(new TrainingConfig());
        Assert.That(m.Parameters.Tensors.Select(t => t.Name).Where(n => n.StartsWith("bn1.", StringComparison.Ordinal)), Is.EqualTo(new[] { "bn1.weight", "bn1.bias" }));
        Assert.That(m.Buffers.Tensors.Select(t => t.Name).Take(3), Is.EqualTo(new[] { "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked" }));
        Assert.That(m.Buffers.Tensors.Single(t => t.Name == "bn4.running_var").Shape, Is.EqualTo(new[] { 256 }));
        Assert.That(m.Buffers.Tensors.Single(t => t.Name == "bn1.num_batches_tracked").Shape, Is.Empty, "a scalar, as PyTorch saves it");
        Assert.That(m.Parameters["fc1.weight"].Shape, Is.EqualTo(new[] { 256, 128 * 3 * 3 }));
        // Decay: conv and dense weights only.
        Assert.That(m.Parameters.Tensors.Where(t => t.Decay).Select(t => t.Name), Is.EqualTo(new[] { "conv1.weight", "conv2.weight", "conv3.weight", "fc1.weight", "fc2.weight" }));
        var initial = m.Parameters.Initial(1);
        Assert.That(initial.AsSpan(m.Parameters["bn2.weight"].Offset, 64).ToArray(), Is.All.EqualTo(1f));
        Assert.That(m.Buffers.Initial(0).AsSpan(m.Buffers["bn2.running_var"].Offset, 64).ToArray(), Is.All.EqualTo(1f));
    }

    [Test]
    public void ReluBeforePoolingIsTakenByThePoolingsBackwardPass()
    {
        var layers = Presets.Bn3(new TrainingConfig()).Layers;
        Assert.That(layers.Single(l => l.Name == "bn1").ReluDoneByNext, Is.True);
        Assert.That(layers.Single(l => l.Name == "pool1").TakesReluOfPrevious, Is.True);
        Assert.That(layers.Single(l => l.Name == "bn4").ReluDoneByNext, Is.False, "dropout follows it, not pooling");
    }

    [Test]
    public void AModelThatDoesNotEndInTenLogitsIsRefused() =>
        Assert.Throws<ArgumentException>(() => _ = new FashionGpu.Training.Model.Model("bad", [new Conv2dLayer("c", 4, 3), new DenseLayer("fc", 7)]));

    [TestCase("cpu")]
    [TestCase("opencl")]
    public void WeightDecayScalesWeightsOnlyNotBiasesOrNormalization(string backend)
    {
        Backends.Require(backend);
        var kernels = Backends.Get(backend);
        using var network = new Network(kernels, Presets.Bn3(new TrainingConfig()), 2);
        var before = network.Layout.Initial(5).Select((v, i) => v + 0.01f * (i % 7)).ToArray();
        network.Parameters.CopyFromCPU(before);
        network.Decay(0.5f);
        kernels.Accelerator.Synchronize();
        var after = network.Parameters.GetAsArray();
        foreach (var t in network.Layout.Tensors)
            for (int i = 0; i < t.Length; i++)
                Assert.That(after[t.Offset + i], Is.EqualTo(t.Decay ? before[t.Offset + i] * 0.5f : before[t.Offset + i]), $"{t.Name}[{i}]");
    }

    /// <summary>
    /// The whole network's parameter gradients against the same network composed from the
    /// double-precision reference ops (<see cref="ReferenceOps"/>), layer by layer, fusions and
    /// in-place dropout included: the layers are wired right. (Finite differences of the whole
    /// network are no test here: with ReLU and max pooling, a step of any size that float32
    /// resolves flips enough units to move the estimate by 10-30%.)
    /// </summary>
    [TestCase("cpu", "seed")]
    [TestCase("opencl", "seed")]
    [TestCase("cpu", "bn3")]
    [TestCase("opencl", "bn3")]
    public void NetworkGradientMatchesTheReferenceNetwork(string backend, string preset)
    {
        Backends.Require(backend);
        var kernels = Backends.Get(backend);
        var config = new TrainingConfig { Model = preset, Dropout1 = 0.25f, Dropout2 = 0.5f };
        var model = Presets.Create(config);
        var (pass, images, labels, parameters, gradient, _) = Step(kernels, model);

        var expected = ReferenceNetwork.Gradients(model, pass, parameters.Select(v => (double)v).ToArray(), images.Select(v => (double)v).ToArray(), labels);
        double overall = expected.Max(Math.Abs);
        foreach (var t in model.Parameters.Tensors)
        {
            var actual = gradient.AsSpan(t.Offset, t.Length).ToArray();
            var want = expected.AsSpan(t.Offset, t.Length).ToArray();
            double scale = want.Max(Math.Abs);
            // Float32 through up to 14 layers: 1e-3 of the tensor's largest gradient. A bias right
            // before batch norm has a zero gradient (the normalization removes the mean); float32 leaves noise there.
            bool zero = scale < 1e-9 * overall;
            bool beforeNorm = model.Layers.Zip(model.Layers.Skip(1)).Any(p => p.Second is BatchNormLayer && t.Name == $"{p.First.Name}.bias");
            Assert.That(zero && !beforeNorm, Is.False, $"{t.Name}: an all-zero reference gradient proves nothing");
            double tolerance = zero ? 1e-4 * overall : 1e-3 * scale;
            for (int i = 0; i < actual.Length; i++)
                Assert.That(actual[i], Is.EqualTo(want[i]).Within(tolerance), $"{t.Name}[{i}]");
        }
    }

    [Test]
    public void TheSeedComputesOnlyWhatItsLaterLayersRead()
    {
        var layers = Presets.Seed(new TrainingConfig()).Layers.ToDictionary(l => l.Name);
        Assert.That(layers["pool1"].Nominal, Is.EqualTo(new TensorShape(32, 13, 13)));
        Assert.That(layers["pool1"].Output, Is.EqualTo(new TensorShape(32, 12, 12)));
        Assert.That(layers["conv2"].Nominal, Is.EqualTo(new TensorShape(64, 11, 11)));
        Assert.That(layers["conv2"].Output, Is.EqualTo(new TensorShape(64, 10, 10)));
        Assert.That(layers["pool2"].Output, Is.EqualTo(layers["pool2"].Nominal));
        // conv1's rows 24 and 25 are not read either, but only a pooling can skip outputs.
        Assert.That(layers["conv1"].Output, Is.EqualTo(layers["conv1"].Nominal));
        var bn3 = Presets.Bn3(new TrainingConfig()).Layers;
        Assert.That(bn3.Where(l => l.Output != l.Nominal), Is.Empty, "batch norm's statistics read every output");
    }

    /// <summary>What trimming skips only ever meets zero gradients, so the sums are the same ones in the same order.</summary>
    [TestCase("cpu")]
    [TestCase("opencl")]
    public void TrimmingChangesNoBitOfTheLossOrTheGradients(string backend)
    {
        Backends.Require(backend);
        var kernels = Backends.Get(backend);
        var config = new TrainingConfig { Dropout1 = 0.25f, Dropout2 = 0.5f };
        var trimmed = Step(kernels, Presets.Seed(config, trim: true));
        var full = Step(kernels, Presets.Seed(config, trim: false));
        Assert.That(trimmed.Totals, Is.EqualTo(full.Totals));
        Assert.That(trimmed.Gradient, Is.EqualTo(full.Gradient));
    }

    /// <summary>One training step's forward, loss and backward passes over 3 random images; the gradient and the loss totals.</summary>
    private static (Pass Pass, float[] Images, int[] Labels, float[] Parameters, float[] Gradient, float[] Totals) Step(KernelLibrary kernels, FashionGpu.Training.Model.Model model)
    {
        const int batch = 3;
        using var network = new Network(kernels, model, batch);
        var rng = new Random(3);
        var images = Enumerable.Range(0, batch * 784).Select(_ => (float)rng.NextDouble()).ToArray();
        int[] labels = [3, 1, 4];
        var parameters = model.Parameters.Initial(7);
        // Non-trivial normalization parameters, so gamma and beta are exercised.
        foreach (var t in model.Parameters.Tensors.Where(t => t.Name.StartsWith("bn", StringComparison.Ordinal)))
            for (int i = 0; i < t.Length; i++) parameters[t.Offset + i] += (float)(rng.NextDouble() - 0.5) * 0.4f;
        network.Images.SubView(0, images.Length).CopyFromCPU(images);
        network.Labels.CopyFromCPU(labels);
        network.Parameters.CopyFromCPU(parameters);
        using var totals = kernels.Accelerator.Allocate1D<float>(2);
        var pass = new Pass(batch, Training: true, Step: 5, Seed: 9);
        network.Forward(pass);
        network.Loss(batch, gradient: true, 0, totals.View);
        network.Backward(pass);
        kernels.Accelerator.Synchronize();
        return (pass, images, labels, parameters, network.Gradients.GetAsArray(), totals.GetAsArray1D());
    }
}

/// <summary>A model's forward and backward passes composed from <see cref="ReferenceOps"/> in double precision.</summary>
internal static class ReferenceNetwork
{
    public static double[] Gradients(FashionGpu.Training.Model.Model model, Pass pass, double[] parameters, double[] images, int[] labels)
    {
        int b = pass.Batch;
        var grads = new double[parameters.Length];
        double[] Slice(double[] all, string name) { var t = model.Parameters[name]; return all.AsSpan(t.Offset, t.Length).ToArray(); }
        void Put(string name, double[] g) => g.CopyTo(grads, model.Parameters[name].Offset);
        var inputs = new List<double[]>();
        var backward = new List<Func<double[], double[]>>();
        var x = images;
        // PyTorch's shapes (Nominal), not the trimmed ones the network computes with: the
        // reference computes every output, as PyTorch's module would.
        var i = FashionGpu.Training.Model.Model.ImageShape;
        foreach (var layer in model.Layers)
        {
            inputs.Add(x);
            var input = x;
            var o = layer.Nominal;
            switch (layer)
            {
                case Conv2dLayer conv:
                {
                    var pad = new PadShape(b, i.Channels, i.Height, i.Width, conv.Padding);
                    var s = new ConvShape(b, i.Channels, o.Channels, pad.OutH, pad.OutW, pad.OutH - o.Height + 1, pad.OutW - o.Width + 1);
                    var padded = ReferenceOps.Pad(pad, input);
                    var w = Slice(parameters, $"{conv.Name}.weight");
                    var pre = ReferenceOps.ConvForward(s, padded, w, Slice(parameters, $"{conv.Name}.bias"));
                    x = conv.Relu ? ReferenceOps.ReluForward(pre) : pre;
                    backward.Add(dy =>
                    {
                        if (conv.Relu) dy = ReferenceOps.ReluBackward(pre, dy);
                        var (dPadded, dW, dB) = ReferenceOps.ConvBackward(s, padded, w, dy);
                        Put($"{conv.Name}.weight", dW); Put($"{conv.Name}.bias", dB);
                        return ReferenceOps.PadBackward(pad, dPadded);
                    });
                    break;
                }
                case BatchNormLayer bn:
                {
                    var s = new BatchNormShape(b, i.Channels, i.Height * i.Width);
                    var gamma = Slice(parameters, $"{bn.Name}.weight");
                    var pre = ReferenceOps.BatchNormTrain(s, input, gamma, Slice(parameters, $"{bn.Name}.bias")).Y;
                    x = bn.Relu ? ReferenceOps.ReluForward(pre) : pre;
                    backward.Add(dy =>
                    {
                        if (bn.Relu) dy = ReferenceOps.ReluBackward(pre, dy);
                        var (dx, dGamma, dBeta) = ReferenceOps.BatchNormBackward(s, input, gamma, dy);
                        Put($"{bn.Name}.weight", dGamma); Put($"{bn.Name}.bias", dBeta);
                        return dx;
                    });
                    break;
                }
                case MaxPool2dLayer:
                {
                    var s = new PoolShape(b, i.Channels, i.Height, i.Width);
                    x = ReferenceOps.MaxPoolForward(s, input);
                    backward.Add(dy => ReferenceOps.MaxPoolBackward(s, input, dy));
                    break;
                }
                case DropoutLayer d:
                {
                    var mask = new DropoutMask((uint)SplitMix64.Derive(pass.Seed, 2, (ulong)d.Stream), (uint)pass.Step, d.Probability);
                    x = ReferenceOps.Dropout(mask, input);
                    backward.Add(dy => ReferenceOps.Dropout(mask, dy));
                    break;
                }
                case DenseLayer dense:
                {
                    var s = new DenseShape(b, i.Size, o.Channels);
                    var w = Slice(parameters, $"{dense.Name}.weight");
                    var pre = ReferenceOps.DenseForward(s, input, w, Slice(parameters, $"{dense.Name}.bias"));
                    x = dense.Relu ? ReferenceOps.ReluForward(pre) : pre;
                    backward.Add(dy =>
                    {
                        if (dense.Relu) dy = ReferenceOps.ReluBackward(pre, dy);
                        var (dx, dW, dB) = ReferenceOps.DenseBackward(s, input, w, dy);
                        Put($"{dense.Name}.weight", dW); Put($"{dense.Name}.bias", dB);
                        return dx;
                    });
                    break;
                }
                default:
                    throw new NotSupportedException($"no reference for {layer.Kind}");
            }
            i = o;
        }
        var g = ReferenceOps.SoftmaxCrossEntropy(new LossShape(b, 10), x, labels).DLogits;
        for (int k = backward.Count - 1; k >= 0; k--) g = backward[k](g);
        return grads;
    }
}
