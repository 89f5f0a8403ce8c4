using FashionGpu.Training;
using NUnit.Framework;

namespace FashionGpu.Tests.Training;

/// <summary>Each schedule gives the learning rate its documentation (LearningRateSchedule, README) states, epoch by epoch.</summary>
public sealed class LearningRateScheduleTests
{
    private static double[] Rates(string schedule, int epochs, int warmup) =>
        Enumerable.Range(1, epochs).Select(e => LearningRateSchedule.Rate(schedule, 1e-3, epochs, warmup, e)).ToArray();

    private static void AssertRates(double[] actual, params double[] expected) =>
        Assert.That(actual, Is.EqualTo(expected).Within(1e-12));

    [Test]
    public void ConstantIsTheBaseRateAfterALinearWarmup()
    {
        AssertRates(Rates("constant", 4, 0), 1e-3, 1e-3, 1e-3, 1e-3);
        AssertRates(Rates("constant", 5, 2), 5e-4, 1e-3, 1e-3, 1e-3, 1e-3);
    }

    [Test]
    public void StepDividesByTenAfterHalfAndAgainAfterThreeQuarters() =>
        AssertRates(Rates("step", 8, 0), 1e-3, 1e-3, 1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5);

    [Test]
    public void CosineFallsFromTheBaseRateAfterWarmup() =>
        AssertRates(Rates("cosine", 5, 1), 1e-3, 1e-3, 1e-3 * (1 + Math.Cos(Math.PI / 4)) / 2, 0.5e-3, 1e-3 * (1 + Math.Cos(3 * Math.PI / 4)) / 2);

    [Test]
    public void OneCycleRisesOverThirtyPercentThenFallsToTenThousandth()
    {
        var r = Rates("onecycle", 10, 0);
        AssertRates(r[..3], 4e-5, 4e-5 + (1e-3 - 4e-5) / 2, 1e-3);
        Assert.That(r[3], Is.EqualTo(1e-7 + (1e-3 - 1e-7) * (1 + Math.Cos(Math.PI / 7)) / 2).Within(1e-12));
        Assert.That(r[9], Is.EqualTo(1e-7).Within(1e-15));
        Assert.That(r[3..], Is.Ordered.Descending);
    }

    [Test]
    public void EveryEpochOfARunLogsItsOwnRate()
    {
        string dir = TestRun.TempDir();
        var config = new TrainingConfig { Epochs = 3, LimitTrain = 400, LimitTest = 50, BatchSize = 50, LrSchedule = "cosine", LearningRate = 2e-3 };
        var (train, test) = FashionGpu.Training.Data.FashionMnist.Load(RealDataset.Directory());
        TrainingRun.Execute(FashionGpu.Tests.Kernels.Backends.Get("opencl"), "opencl", config, train, test, dir, new Silent());
        var rates = MetricsReader.Read(Path.Combine(dir, MetricsLog.FileName)).Epochs.Select(e => e.LearningRate).ToArray();
        AssertRates(rates, Enumerable.Range(1, 3).Select(e => LearningRateSchedule.Rate(config, e)).ToArray());
        Assert.That(rates.Distinct().Count(), Is.EqualTo(3));
    }

    private sealed class Silent : ITrainingObserver;
}
