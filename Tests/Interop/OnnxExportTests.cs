using System.Text.Json;
using FashionGpu.Tests.Kernels;
using FashionGpu.Tests.Training;
using FashionGpu.Training;
using FashionGpu.Training.Checkpoints;
using FashionGpu.Training.Data;
using FashionGpu.Training.Export;
using FashionGpu.Training.Model;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;

namespace FashionGpu.Tests.Interop;

/// <summary>
/// The exported ONNX file runs elsewhere: for every preset, a short real run through the CLI
/// with --onnx, then ONNX Runtime evaluates the whole test set with that file and FashionGpu
/// evaluates it with the checkpoint; accuracy and every logit must agree.
/// </summary>
[TestFixtureSource(typeof(ShortRuns), nameof(ShortRuns.Sources))]
public sealed class OnnxExportTests(string source)
{
    private ShortRun run = null!;
    private string preset = "", backend = "", weights = "";
    private ImageSet test = null!;

    [OneTimeSetUp]
    public void TrainWithOnnx()
    {
        run = ShortRuns.Get(source);
        (preset, backend, weights) = (run.Preset, run.Backend, run.Weights);
        test = FashionMnist.Load(RealDataset.Directory()).Test;
        Assert.That(run.Output.Out, Does.Contain($"Wrote {run.Onnx}: model {preset}"));
    }

    /// <summary>The network's input: pixels times float32(1/255), as the kernels compute it.</summary>
    public static float[] Pixels(ImageSet set) => set.Pixels.Select(p => p * (1f / 255f)).ToArray();

    private static float[] RunOnnx(InferenceSession session, float[] images, int count, string output = OnnxExport.LogitsName)
    {
        var input = new DenseTensor<float>(images.AsMemory(0, count * 784), [count, 1, 28, 28]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, input)]);
        return results.Single(v => v.Name == output).AsEnumerable<float>().ToArray();
    }

    [Test]
    public void OnnxRuntimeGivesFashionGpusLogitsAndAccuracyOnTheWholeTestSet()
    {
        var (model, state) = ModelCheckpoint.Load(weights);
        Assert.That(model.Name, Is.EqualTo(preset));
        if (model.Buffers.Count > 0)
            Assert.That(state.Buffers.Any(v => v != 0f && v != 1f), Is.True, "the batch-norm statistics have moved from their initial values");
        var ours = Evaluator.Run(Backends.Get(backend), model, state, test);

        using var session = new InferenceSession(run.Onnx);
        var theirs = RunOnnx(session, Pixels(test), test.Count);
        InteropAssert.SameLogits(theirs, ours, "ONNX Runtime", $"{source} ({preset}) on {backend}");
        Assert.That(ours.Correct, Is.GreaterThan(2000), "a trained model, well above chance (1000)");
    }

    [Test]
    public void TheBatchDimensionIsDynamicAndProbabilitiesAreTheSoftmaxOfTheLogits()
    {
        using var session = new InferenceSession(run.Onnx);
        var images = Pixels(test.Take(64));
        var all = RunOnnx(session, images, 64);
        foreach (int n in new[] { 1, 37 })
            Assert.That(RunOnnx(session, images, n), Is.EqualTo(all.Take(10 * n).ToArray()).Within(1e-5f), $"a batch of {n}");
        var p = RunOnnx(session, images, 64, OnnxExport.ProbabilitiesName);
        for (int i = 0; i < 64; i++)
        {
            var z = all.AsSpan(10 * i, 10).ToArray();
            double max = z.Max(), sum = z.Sum(v => Math.Exp(v - max));
            for (int k = 0; k < 10; k++) Assert.That(p[10 * i + k], Is.EqualTo(Math.Exp(z[k] - max) / sum).Within(1e-6), $"image {i} class {k}");
        }
    }

    [Test]
    public void TheModelDescribesItsInputOutputsAndClasses()
    {
        using var session = new InferenceSession(run.Onnx);
        Assert.That(session.InputMetadata.Keys, Is.EqualTo(new[] { "image" }));
        Assert.That(session.InputMetadata["image"].Dimensions, Is.EqualTo(new[] { -1, 1, 28, 28 }));
        Assert.That(session.InputMetadata["image"].SymbolicDimensions[0], Is.EqualTo("N"));
        Assert.That(session.OutputMetadata.Keys, Is.EqualTo(new[] { "logits", "probabilities" }));
        foreach (var o in session.OutputMetadata.Values) Assert.That(o.Dimensions, Is.EqualTo(new[] { -1, 10 }));
        var meta = session.ModelMetadata;
        Assert.That(meta.ProducerName, Is.EqualTo("FashionGpu"));
        Assert.That(meta.GraphName, Is.EqualTo(preset));
        Assert.That(JsonSerializer.Deserialize<string[]>(meta.CustomMetadataMap["class_names"]), Is.EqualTo(FashionMnist.ClassNames));
        Assert.That(meta.CustomMetadataMap["model"], Is.EqualTo(preset));
        Assert.That(meta.CustomMetadataMap["seed"], Is.EqualTo(ModelCheckpoint.Load(weights).State.Metadata["seed"]));
    }

    [Test]
    public void ExportWritesTheSameFileAsTrainOnnx()
    {
        string onnx = Path.Combine(TempDir(), "exported.onnx");
        var r = Run("export", "--model", weights, "-o", onnx);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(r.Out, Does.StartWith($"Wrote {onnx}: model {preset}"));
        Assert.That(File.ReadAllBytes(onnx), Is.EqualTo(File.ReadAllBytes(run.Onnx)));
        AssertUsageError(Run("export", "--model", weights, "-o", onnx), "--out", "exists; pass --force");
        Assert.That(Run("export", "--model", weights, "-o", onnx, "--force").ExitCode, Is.EqualTo(0));
    }

    [Test]
    public void TheOnnxCheckerAcceptsTheModelAndInfersItsShapes()
    {
        Python.Require("onnx");
        string output = Python.RunOk($$"""
            import onnx
            model = onnx.load({{JsonSerializer.Serialize(run.Onnx)}})
            onnx.checker.check_model(model, full_check=True)
            inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
            for v in inferred.graph.output:
                print(v.name, [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim])
            """, TempDir(), TimeSpan.FromMinutes(2));
        Assert.That(output, Does.Contain("logits ['N', 10]").And.Contain("probabilities ['N', 10]"));
    }
}

/// <summary>What export refuses, each with one line and no file written.</summary>
public sealed class OnnxExportRefusalTests
{
    [Test]
    public void ACheckpointWithANonFiniteWeightIsRefusedAndNothingIsWritten()
    {
        var model = Presets.Seed(new TrainingConfig());
        var parameters = model.Parameters.Initial(1);
        parameters[model.Parameters["fc1.weight"].Offset + 7] = float.NaN;
        string dir = TempDir(), path = Path.Combine(dir, "diverged.safetensors"), onnx = Path.Combine(dir, "diverged.onnx");
        ModelCheckpoint.Save(path, model, parameters, [], null, null, new Dictionary<string, string>());
        AssertUsageError(Run("export", "--model", path), path, "cannot export", "fc1.weight", "NaN at element 7");
        Assert.That(Directory.GetFiles(dir), Is.EqualTo(new[] { path }), "no ONNX file, no temporary file");
    }

    [Test]
    public void MissingFilesAndDirectoriesAreNamed()
    {
        string dir = TempDir(), missing = Path.Combine(dir, "none.safetensors");
        AssertUsageError(Run("export", "--model", missing), "--model", missing, "does not exist");
        var model = Presets.Seed(new TrainingConfig());
        string path = Path.Combine(dir, "m.safetensors");
        ModelCheckpoint.Save(path, model, model.Parameters.Initial(1), [], null, null, new Dictionary<string, string>());
        AssertUsageError(Run("export", "--model", path, "-o", Path.Combine(dir, "no", "such", "x.onnx")), "--out", "does not exist");
        AssertUsageError(Run("export", "--model", path, "-o", dir), "--out", "is a directory");
        AssertUsageError(Run("export", "--model", path, "-o", path, "--force"), "--out", "is the checkpoint itself");
        // Without -o the file goes beside the checkpoint, and errors name that default.
        var first = Run("export", "--model", path);
        Assert.That(first.ExitCode, Is.EqualTo(0), first.ToString());
        Assert.That(File.Exists(Path.Combine(dir, "m.onnx")), Is.True);
        AssertUsageError(Run("export", "--model", path), $"--out (default {Path.Combine(dir, "m.onnx")})", "exists; pass --force");
    }

    [Test]
    public void EveryPresetBuildsAGraphWithAllItsWeightsAndNoDropout()
    {
        foreach (var p in Presets.All)
        {
            var model = p.Build(p.Recipe(new TrainingConfig { Model = p.Name }));
            var state = new ModelState(model.Parameters.Initial(3), model.Buffers.Initial(3), null, null, new Dictionary<string, string>());
            var proto = OnnxExport.Build(model, state);
            Assert.That(proto.Graph.Initializer.Select(t => t.Name), Is.EquivalentTo(
                model.Parameters.Tensors.Concat(model.Buffers.Tensors).Select(t => t.Name).Where(n => !n.EndsWith(".num_batches_tracked"))), p.Name);
            Assert.That(proto.Graph.Node.Select(n => n.OpType), Has.None.EqualTo("Dropout"), p.Name);
            Assert.That(proto.Graph.Node.Count(n => n.OpType == "Conv"), Is.EqualTo(model.Layers.Count(l => l.Kind == "Conv2d")), p.Name);
        }
    }
}
