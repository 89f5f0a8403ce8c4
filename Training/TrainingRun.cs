using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FashionGpu.Kernels;
using FashionGpu.Training.Checkpoints;
using FashionGpu.Training.Data;
using FashionGpu.Training.Model;

namespace FashionGpu.Training;

/// <summary>What a caller (the CLI) hears while a run goes on.</summary>
public interface ITrainingObserver
{
    void Started(TrainingRunInfo info) { }
    void Progress(int epoch, StepProgress progress) { }
    void EpochDone(EpochMetrics metrics) { }
    void Profiled(IReadOnlyList<ProfileRow> rows, string csvPath) { }
    /// <summary>The test set is evaluated; summary.json is written after this returns (and after the ONNX export), so it marks a run whose every output is whole.</summary>
    void Finished(RunOutcome outcome) { }
    /// <summary>model.onnx is written (with exportOnnx); <paramref name="description"/> says what it holds.</summary>
    void Exported(string description) { }
}

public sealed record TrainingRunInfo(int TrainSamples, int ValSamples, int TestSamples, int StepsPerEpoch, string Accelerator);

public sealed record RunOutcome(EvaluationResult Test, ImageSet TestImages, string OutputDirectory, string ModelPath, string MetricsPath, string SummaryPath, double TotalSeconds,
    EvaluatedWeights Weights);

/// <summary>Which weights the test evaluation used: "best" or "last", of which epoch; the best validation epoch; where early stopping ended the run (null when it did not).</summary>
public sealed record EvaluatedWeights(string Which, int Epoch, int? BestEpoch, double? BestValAccuracy, int? StoppedAfterEpoch);

/// <summary>Where an interrupted run continues: the last completed epoch's checkpoint.</summary>
public sealed record ResumePoint(ModelState State, int CompletedEpochs, long Step);

/// <summary>Training diverged (a NaN or infinite loss); the message names where and what to do.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>
/// A whole training run into an output directory: run.json (its settings and device, at the
/// start), metrics.csv (a row per epoch), model.safetensors (after every epoch) and, once
/// everything else is written, summary.json. Every file is replaced whole (<see cref="OutputFile"/>).
/// </summary>
public static class TrainingRun
{
    public const string ModelFile = "model.safetensors", BestFile = "best.safetensors", SummaryFile = "summary.json", ProfileFile = "profile.csv", RunFile = "run.json",
        OnnxFile = "model.onnx";

    /// <summary>What run.json holds: enough to start the run again before its first checkpoint exists.</summary>
    public sealed record RunSettings(TrainingConfig Config, string Accelerator);

    private static void WriteProfile(string path, IReadOnlyList<ProfileRow> rows) => OutputFile.Write(path, stream =>
    {
        using var csv = CsvHelper.CsvWriter.Create(stream, new CsvHelper.CsvWriterOptions { NewLine = "\n" }, leaveOpen: true);
        csv.WriteRecord(["layer", "phase", "ms_per_step", "percent_of_step", "gflops"]);
        foreach (var r in rows)
            csv.WriteRecord([r.Layer, r.Phase.ToString().ToLowerInvariant(), r.MillisecondsPerStep.ToString("0.000", CultureInfo.InvariantCulture),
                r.PercentOfStep.ToString("0.0", CultureInfo.InvariantCulture), r.Gflops?.ToString("0.00", CultureInfo.InvariantCulture) ?? ""]);
        csv.Flush();
    });

    public static RunOutcome Execute(KernelLibrary kernels, string acceleratorName, TrainingConfig config, ImageSet train, ImageSet test,
        string outDir, ITrainingObserver observer, CancellationToken cancel = default, ResumePoint? resume = null, bool profile = false, bool exportOnnx = false)
    {
        var clock = Stopwatch.StartNew();
        var (trainCount, valCount) = config.Split(train.Count);
        train = train.Take(trainCount + valCount);
        if (config.LimitTest is { } ls) test = test.Take(ls);

        Directory.CreateDirectory(outDir);
        if (resume is null) OutputFile.WriteAllText(Path.Combine(outDir, RunFile), JsonSerializer.Serialize(new RunSettings(config, acceleratorName), JsonOptions));
        string modelPath = Path.Combine(outDir, ModelFile), metricsPath = Path.Combine(outDir, MetricsLog.FileName);
        using var trainData = new DeviceDataset(kernels.Accelerator, train);
        using var testData = new DeviceDataset(kernels.Accelerator, test);
        using var trainer = new Trainer(kernels, config, trainData, trainCount, Math.Max(test.Count, train.Count));
        var model = trainer.Network.Model;
        if (resume is not null) trainer.Upload(resume.State.Parameters, resume.State.Buffers, resume.State.AdamM, resume.State.AdamV, resume.Step);
        else if (config.InitFrom is { } init)
        {
            var state = ModelCheckpoint.Load(init, model);
            trainer.Upload(state.Parameters, state.Buffers);
        }
        observer.Started(new TrainingRunInfo(trainCount, valCount, test.Count, trainer.StepsPerEpoch, acceleratorName));

        var log = new MetricsLog(metricsPath, append: resume is not null);
        string bestPath = Path.Combine(outDir, BestFile);
        // The best epoch so far and early stopping's count come from the rows already logged, so a resumed run continues both.
        var best = Best(resume is null ? [] : MetricsReader.Read(metricsPath).Epochs.Where(e => e.Epoch <= resume.CompletedEpochs));
        int lastEpoch = resume?.CompletedEpochs ?? 0;
        int? stoppedAfter = null;
        for (int epoch = lastEpoch + 1; epoch <= config.Epochs; epoch++)
        {
            if (config.EarlyStop is { } patience && best is { } b && epoch - 1 - b.Epoch >= patience)
            {
                stoppedAfter = epoch - 1;
                break;
            }
            var epochClock = Stopwatch.StartNew();
            // --profile times every layer of the run's first epoch.
            var profiler = profile && epoch == (resume?.CompletedEpochs ?? 0) + 1 ? new StepProfiler(kernels.Accelerator) : null;
            var (loss, accuracy, trainSeconds) = trainer.TrainEpoch(epoch, p => observer.Progress(epoch, p), cancel, profiler);
            EvaluationResult? val = valCount > 0 ? trainer.Evaluate(trainData, trainCount, valCount, train.Labels) : null;
            var row = new EpochMetrics(epoch, loss, accuracy, val?.Loss, val?.Accuracy, LearningRateSchedule.Rate(config, epoch),
                epochClock.Elapsed.TotalSeconds, trainCount / trainSeconds, acceleratorName);
            // The row first, then the checkpoint: a kill between the two leaves a row newer than
            // the checkpoint, which resuming drops; the other order would lose the row for good.
            log.Append(row);
            if (TestHold.Enabled) TestHold.At($"row:{epoch}", cancel);
            var (p, buffers, m, v) = trainer.Download();
            // best.safetensors before the checkpoint: a kill between them retrains this epoch, which writes it again, identically.
            if (val is not null && (best is null || val.Accuracy > best.Value.Accuracy))
            {
                best = (epoch, val.Accuracy);
                ModelCheckpoint.Save(bestPath, model, p, buffers, null, null, Metadata(config, epoch, trainer.Step, acceleratorName));
            }
            ModelCheckpoint.Save(modelPath, model, p, buffers, m, v, Metadata(config, epoch, trainer.Step, acceleratorName));
            lastEpoch = epoch;
            observer.EpochDone(row);
            if (profiler?.Rows() is { } profileRows)
            {
                string profilePath = Path.Combine(outDir, ProfileFile);
                WriteProfile(profilePath, profileRows);
                observer.Profiled(profileRows, profilePath);
            }
        }

        var weights = new EvaluatedWeights("last", lastEpoch, best?.Epoch, best?.Accuracy, stoppedAfter);
        if (config.EvaluateWeights == "best" && best is { } top)
        {
            var state = ModelCheckpoint.Load(bestPath, model);
            trainer.Upload(state.Parameters, state.Buffers);
            weights = weights with { Which = "best", Epoch = top.Epoch };
        }
        var result = trainer.Evaluate(testData, 0, test.Count, test.Labels);
        string summaryPath = Path.Combine(outDir, SummaryFile);
        var outcome = new RunOutcome(result, test, outDir, modelPath, metricsPath, summaryPath, clock.Elapsed.TotalSeconds, weights);
        observer.Finished(outcome);
        if (exportOnnx)
        {
            // The weights just evaluated, with their file's metadata; before summary.json, which marks a complete run.
            string weightsPath = weights.Which == "best" ? bestPath : modelPath, onnxPath = Path.Combine(outDir, OnnxFile);
            var proto = Export.OnnxExport.Build(model, ModelCheckpoint.Load(weightsPath, model));
            Export.OnnxExport.Write(onnxPath, proto);
            observer.Exported(Export.OnnxExport.Describe(onnxPath, model, proto));
        }
        WriteSummary(summaryPath, config, result, clock.Elapsed.TotalSeconds, acceleratorName, trainCount, valCount, weights);
        return outcome;
    }

    /// <summary>The epoch with the best validation accuracy (the first of equals), or null without validation rows.</summary>
    private static (int Epoch, double Accuracy)? Best(IEnumerable<EpochMetrics> rows)
    {
        (int, double)? best = null;
        foreach (var r in rows)
            if (r.ValAccuracy is { } a && (best is null || a > best.Value.Item2)) best = (r.Epoch, a);
        return best;
    }

    public static Dictionary<string, string> Metadata(TrainingConfig config, int epoch, long step, string accelerator) => new()
    {
        ["format"] = "fashiongpu-1",
        ["epoch"] = epoch.ToString(CultureInfo.InvariantCulture),
        ["step"] = step.ToString(CultureInfo.InvariantCulture),
        ["seed"] = config.Seed.ToString(CultureInfo.InvariantCulture),
        ["accelerator"] = accelerator,
        ["config"] = JsonSerializer.Serialize(config, JsonOptions),
    };

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static void WriteSummary(string path, TrainingConfig config, EvaluationResult test, double seconds, string accelerator, int trainCount, int valCount, EvaluatedWeights weights)
    {
        // A class's accuracy is its recall: correct predictions over samples of that class.
        var scores = Reports.ClassificationReport.From(test, FashionMnist.ClassNames).Scores();
        var summary = new
        {
            TestLoss = test.Loss,
            TestAccuracy = test.Accuracy,
            TestCorrect = test.Correct,
            TestSamples = test.Count,
            EvaluatedWeights = weights.Which,
            EvaluatedEpoch = weights.Epoch,
            BestEpoch = weights.BestEpoch,
            BestValAccuracy = weights.BestValAccuracy,
            StoppedEarlyAfterEpoch = weights.StoppedAfterEpoch,
            PerClassAccuracy = scores.ToDictionary(s => s.Name, s => s.Support == 0 ? double.NaN : s.Recall),
            TotalSeconds = seconds,
            TrainSamples = trainCount,
            ValSamples = valCount,
            Accelerator = accelerator,
            Config = config,
            Versions = Versions(),
        };
        OutputFile.WriteAllText(path, JsonSerializer.Serialize(summary, JsonOptions));
    }

    public static Dictionary<string, string> Versions() => new()
    {
        ["fashiongpu"] = typeof(TrainingRun).Assembly.GetName().Version?.ToString(3) ?? "?",
        ["ilgpu"] = typeof(ILGPU.Context).Assembly.GetName().Version?.ToString(3) ?? "?",
        ["dotnet"] = Environment.Version.ToString(),
        ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
    };
}
