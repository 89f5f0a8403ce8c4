using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using FashionGpu.Tests.Kernels;
using FashionGpu.Tests.Training;
using FashionGpu.Training;
using FashionGpu.Training.Checkpoints;
using FashionGpu.Training.Data;
using FashionGpu.Training.Model;
using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;

namespace FashionGpu.Tests.Interop;

/// <summary>
/// Checkpoints and PyTorch, both ways, with README's snippets run as they stand: each preset's
/// checkpoint loads into README's torch.nn module and gives FashionGpu's logits, and a state
/// dict PyTorch trained and saved evaluates here to PyTorch's accuracy and starts a run via --init.
/// </summary>
[TestFixtureSource(typeof(ShortRuns), nameof(ShortRuns.Sources))]
public sealed class PyTorchInteropTests(string source)
{
    private const int TestImages = 1000, TrainImages = 2048;
    private ShortRun run = null!;
    private string preset = "";
    private ImageSet train = null!, test = null!;

    [OneTimeSetUp]
    public void Setup()
    {
        Python.Require("torch");
        run = ShortRuns.Get(source);
        preset = run.Preset;
        (train, test) = FashionMnist.Load(RealDataset.Directory());
        test = test.Take(TestImages);
    }

    /// <summary>A directory holding the run's weights under the name README's snippet for this preset loads, and the test images as float32.</summary>
    private string SnippetDirectory(out string script)
    {
        script = ReadmeSnippets.Get("pytorch-load") + ReadmeSnippets.Get($"pytorch-{preset}");
        var loaded = Regex.Match(script, @"load_safetensors\(""([^""]+)""\)");
        Assert.That(loaded.Success, Is.True, "the snippet loads a checkpoint by name");
        string dir = TempDir();
        File.Copy(run.Weights, Path.Combine(dir, loaded.Groups[1].Value));
        WriteFloats(Path.Combine(dir, "test.f32"), OnnxExportTests.Pixels(test));
        return dir;
    }

    private const string ReadFloats = """

        def floats(name, shape):
            return torch.frombuffer(bytearray(open(name, "rb").read()), dtype=torch.float32).reshape(shape)

        """;

    [Test]
    public void ReadmesSnippetLoadsTheCheckpointAndGivesFashionGpusLogits()
    {
        string dir = SnippetDirectory(out var script);
        Python.RunOk(script + ReadFloats + """
            with torch.no_grad():
                open("logits.f32", "wb").write(net(floats("test.f32", (-1, 1, 28, 28))).numpy().tobytes())
            """, dir, TimeSpan.FromMinutes(3));
        var theirs = ReadFloatFile(Path.Combine(dir, "logits.f32"));
        var (model, state) = ModelCheckpoint.Load(run.Weights);
        var ours = Evaluator.Run(Backends.Get(run.Backend), model, state, test);
        InteropAssert.SameLogits(theirs, ours, "PyTorch", $"{source} ({preset}) on {run.Backend}");
    }

    [Test]
    public void AStateDictTrainedAndSavedByPyTorchEvaluatesToItsAccuracyAndStartsARun()
    {
        string dir = SnippetDirectory(out var script);
        WriteFloats(Path.Combine(dir, "train.f32"), OnnxExportTests.Pixels(train.Take(TrainImages)));
        File.WriteAllBytes(Path.Combine(dir, "train.u8"), train.Labels.Take(TrainImages).ToArray());
        // README's module, trained afresh by PyTorch alone (one pass over 2048 images), then README's save snippet writes it.
        Python.RunOk(script + ReadFloats + """
            torch.manual_seed(0)
            net = type(net)()
            x, y = floats("train.f32", (-1, 1, 28, 28)), torch.frombuffer(bytearray(open("train.u8", "rb").read()), dtype=torch.uint8).long()
            optimizer = torch.optim.Adam(net.parameters(), 1e-3)
            net.train()
            for i in range(0, len(x), 64):
                optimizer.zero_grad()
                F.cross_entropy(net(x[i:i + 64]), y[i:i + 64]).backward()
                optimizer.step()
            net.eval()
            with torch.no_grad():
                open("pytorch-logits.f32", "wb").write(net(floats("test.f32", (-1, 1, 28, 28))).numpy().tobytes())

            """ + ReadmeSnippets.Get("pytorch-save"), dir, TimeSpan.FromMinutes(5));
        string file = Path.Combine(dir, "pytorch.safetensors");
        var theirs = ReadFloatFile(Path.Combine(dir, "pytorch-logits.f32"));
        int correct = Enumerable.Range(0, TestImages).Count(i => InteropAssert.ArgMax(theirs.AsSpan(10 * i, 10)) == test.Labels[i]);
        Assert.That(correct, Is.GreaterThan(2 * TestImages / 10), "PyTorch trained it above chance");

        var (model, state) = ModelCheckpoint.Load(file);
        Assert.That(model.Name, Is.EqualTo(preset), "a file without metadata is read into the preset whose tensors it holds");
        var ours = Evaluator.Run(Backends.Get(run.Backend), model, state, test);
        InteropAssert.SameLogits(theirs, ours, "PyTorch", $"{source} ({preset}), trained by PyTorch, on {run.Backend}");

        var evaluated = Run("evaluate", "--model", file, "--accelerator", run.Backend, "--limit-test", $"{TestImages}");
        Assert.That(evaluated.ExitCode, Is.EqualTo(0), evaluated.ToString());
        Assert.That(evaluated.Out, Does.Contain($"({ours.Correct} of {TestImages})"), "evaluate gives the accuracy just compared with PyTorch's");

        // A learning rate of 1e-30 moves no float32 weight: the run trains on exactly PyTorch's weights.
        string resumed = Path.Combine(TempDir(), "from-pytorch");
        var trained = Run(TimeSpan.FromMinutes(10), "train", "--model", preset, "--init", file, "--lr", "1e-30", "--epochs", "1", "--limit-train", "640",
            "--val-split", "0", "--evaluate", "last", "--limit-test", $"{TestImages}", "--accelerator", run.Backend, "--out", resumed);
        Assert.That(trained.ExitCode, Is.EqualTo(0), trained.ToString());
        var after = ModelCheckpoint.Load(Path.Combine(resumed, "model.safetensors"), model);
        Assert.That(after.Parameters, Is.EqualTo(state.Parameters), "the run started from the PyTorch weights");
        if (model.Buffers.Count == 0)
        {
            using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(resumed, "summary.json")));
            Assert.That(summary.RootElement.GetProperty("test_correct").GetInt32(), Is.EqualTo(ours.Correct), "and tests to the same accuracy");
        }
    }

    private static void WriteFloats(string path, float[] values) => File.WriteAllBytes(path, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    private static float[] ReadFloatFile(string path) => MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray();
}
