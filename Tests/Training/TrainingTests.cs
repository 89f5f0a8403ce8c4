using FashionGpu.Kernels;
using FashionGpu.Tests.Kernels;
using FashionGpu.Training;
using FashionGpu.Training.Checkpoints;
using FashionGpu.Training.Data;
using FashionGpu.Training.Model;
using ILGPU.Runtime;
using NUnit.Framework;

namespace FashionGpu.Tests.Training;

/// <summary>End-to-end training on slices of the real Fashion-MNIST.</summary>
public sealed class TrainingTests
{
    private sealed class Silent : ITrainingObserver;

    private static (ImageSet Train, ImageSet Test) Data => RealData.Value;

    private static readonly Lazy<(ImageSet, ImageSet)> RealData = new(() => FashionMnist.Load(RealDataset.Directory()));

    private static string TempDir() => TestRun.TempDir();

    private static RunOutcome Run(string backend, TrainingConfig config, string outDir) =>
        TrainingRun.Execute(Backends.Get(backend), backend, config, Data.Train, Data.Test, outDir, new Silent());

    [Test]
    public void OneEpochOnFiveThousandSamplesIsWellAboveChance()
    {
        string dir = TempDir();
        var outcome = Run("opencl", new TrainingConfig { Epochs = 1, LimitTrain = 5000, LimitTest = 2000 }, dir);
        Assert.That(outcome.Test.Accuracy, Is.GreaterThanOrEqualTo(0.70), "test accuracy after one epoch on 5,000 samples");
        Assert.That(outcome.Test.Count, Is.EqualTo(2000));
        var lines = File.ReadAllLines(Path.Combine(dir, MetricsLog.FileName));
        Assert.That(lines[0], Is.EqualTo("epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,epoch_seconds,samples_per_second,accelerator"));
        Assert.That(lines, Has.Length.EqualTo(2));
        Assert.That(File.Exists(Path.Combine(dir, TrainingRun.SummaryFile)), Is.True);
    }

    [Test]
    public void CheckpointHoldsEveryTensorWithPyTorchNamesShapesAndTheTrainedValues()
    {
        string dir = TempDir();
        var config = new TrainingConfig { Epochs = 1, LimitTrain = 640, LimitTest = 100, Seed = 5 };
        var outcome = Run("cpu", config, dir);
        var file = SafeTensors.Read(outcome.ModelPath);
        var byName = file.Tensors.ToDictionary(t => t.Name);
        var expected = new Dictionary<string, int[]>
        {
            ["conv1.weight"] = [32, 1, 3, 3], ["conv1.bias"] = [32], ["conv2.weight"] = [64, 32, 3, 3], ["conv2.bias"] = [64],
            ["fc1.weight"] = [128, 1600], ["fc1.bias"] = [128], ["fc2.weight"] = [10, 128], ["fc2.bias"] = [10],
        };
        foreach (var (name, shape) in expected)
        {
            Assert.That(byName[name].Shape, Is.EqualTo(shape), name);
            Assert.That(byName[$"optimizer.{name}.m"].Shape, Is.EqualTo(shape));
            Assert.That(byName[$"optimizer.{name}.v"].Shape, Is.EqualTo(shape));
        }
        Assert.That(byName, Has.Count.EqualTo(24));
        Assert.That(file.Metadata["epoch"], Is.EqualTo("1"));
        Assert.That(file.Metadata["step"], Is.EqualTo("9"), "576 training samples in batches of 64");
        Assert.That(file.Metadata["seed"], Is.EqualTo("5"));

        // The values are the trained ones: evaluating them reproduces the run's test result exactly.
        var (model, state) = ModelCheckpoint.Load(outcome.ModelPath, requireOptimizer: true);
        var again = Evaluator.Run(Backends.Get("cpu"), model, state, Data.Test.Take(100), batchSize: 64);
        Assert.That(again.Correct, Is.EqualTo(outcome.Test.Correct));
        Assert.That(again.Logits, Is.EqualTo(outcome.Test.Logits));
        // Training moved the weights away from a fresh Glorot initialisation with the same seed.
        var initial = model.Parameters.Initial(SplitMix64.Derive(5, 1));
        Assert.That(state.Parameters, Is.Not.EqualTo(initial));
        Assert.That(state.AdamV!.All(v => v >= 0), Is.True);
    }

    [TestCase("cpu")]
    [TestCase("opencl")]
    public void TheSameSeedGivesTheSameMetricsApartFromTiming(string backend)
    {
        var config = new TrainingConfig { Epochs = 2, LimitTrain = 700, LimitTest = 100, BatchSize = 32, Seed = 9 };
        string a = TempDir(), b = TempDir();
        Run(backend, config, a);
        Run(backend, config, b);
        Assert.That(WithoutTiming(a), Is.EqualTo(WithoutTiming(b)));
        Assert.That(File.ReadAllBytes(Path.Combine(a, TrainingRun.ModelFile)), Is.EqualTo(File.ReadAllBytes(Path.Combine(b, TrainingRun.ModelFile))));
    }

    [Test]
    public void CpuAndOpenClGiveTheSameLossesWithinOneThousandth()
    {
        var config = new TrainingConfig { Epochs = 1, LimitTrain = 2048, LimitTest = 200, ValSplit = 0.25, Seed = 3 };
        string cpu = TempDir(), cl = TempDir();
        var onCpu = Run("cpu", config, cpu);
        var onCl = Run("opencl", config, cl);
        var rowsCpu = File.ReadAllLines(Path.Combine(cpu, MetricsLog.FileName))[1].Split(',');
        var rowsCl = File.ReadAllLines(Path.Combine(cl, MetricsLog.FileName))[1].Split(',');
        foreach (int column in new[] { 1, 3 }) // train_loss, val_loss
            Assert.That(double.Parse(rowsCl[column]), Is.EqualTo(double.Parse(rowsCpu[column])).Within(1e-3));
        Assert.That(onCl.Test.Loss, Is.EqualTo(onCpu.Test.Loss).Within(1e-3));
    }

    /// <summary>metrics.csv without epoch_seconds and samples_per_second (columns 6 and 7) and the accelerator.</summary>
    private static string[] WithoutTiming(string dir) =>
        File.ReadAllLines(Path.Combine(dir, MetricsLog.FileName))
            .Select(l => string.Join(',', l.Split(',').Where((_, i) => i is not (6 or 7))))
            .ToArray();
}

/// <summary>Where the real dataset is: required in CI (which installs it), otherwise a visible skip.</summary>
public static class RealDataset
{
    public static string Directory()
    {
        try
        {
            return DatasetLocator.Locate(null).Directory;
        }
        catch (DataFileException e)
        {
            if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"))) Assert.Fail($"CI needs the real Fashion-MNIST: {e.Message}");
            Assert.Ignore($"the real Fashion-MNIST is not installed: {e.Message}");
            throw;
        }
    }
}
