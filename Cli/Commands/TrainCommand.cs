using System.CommandLine;
using System.Globalization;
using FashionGpu.Cli.Plots;
using FashionGpu.Kernels;
using FashionGpu.Training;
using FashionGpu.Training.Checkpoints;
using FashionGpu.Training.Data;
using FashionGpu.Training.Model;

namespace FashionGpu.Cli.Commands;

/// <summary><c>fashiongpu train</c>: trains the seed's CNN and writes metrics.csv, model.safetensors and summary.json.</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var defaults = new TrainingConfig();
        var devices = new DeviceOptions();
        var epochs = Options.PositiveInt("--epochs", "Passes over the training set.", defaults.Epochs);
        var batchSize = Options.PositiveInt("--batch-size", "Samples per step (the last batch of an epoch may be smaller).", defaults.BatchSize);
        var lr = Options.LearningRate("--lr", "Adam's learning rate (a normal float32: 1.2e-38 to 3.4e38).", defaults.LearningRate);
        var seed = new Option<ulong>("--seed") { Description = "Seed for the initial weights, the shuffles and the dropout masks.", DefaultValueFactory = _ => defaults.Seed };
        var valSplit = Options.Fraction("--val-split", "Fraction of the training set held out for validation, from its end (as Keras' validation_split).", defaults.ValSplit);
        var dropout = Options.Dropout(defaults.Dropout1, defaults.Dropout2);
        var limitTrain = Options.OptionalPositiveInt("--limit-train", "Use only the first N training samples (before the validation split); more than the data holds is refused.");
        var limitTest = Options.OptionalPositiveInt("--limit-test", "Use only the first N test samples; more than the data holds is refused.");
        var data = Options.DataDirectory();
        var download = new Option<bool>("--download") { Description = "When no copy of Fashion-MNIST is found, download it into ~/.keras/datasets/fashion-mnist (where Keras caches it; SHA-256 verified)." };
        var output = new Option<string?>("--out", "-o") { Description = "Output directory (default runs/<timestamp>). Must be empty or new unless --force.", HelpName = "DIR" };
        var force = new Option<bool>("--force") { Description = "Write into --out even if it already holds files (they are replaced)." };
        var init = new Option<string?>("--init") { Description = "Start from the weights in this safetensors file instead of random ones.", HelpName = "FILE" };
        var onnx = new Option<bool>("--onnx") { Description = "At the end, also write OUT/model.onnx: the evaluated weights (see --evaluate) as an ONNX model, as 'fashiongpu export' writes it (before summary.json). With --resume, give it again." };
        var profile = new Option<bool>("--profile") { Description = "Time every layer during the first epoch (forward, backward, update) and print where the step's time goes; also writes OUT/profile.csv." };
        var model = new Option<string>("--model")
        {
            Description = $"The model preset: {string.Join(", ", Presets.All.Select(p => p.Name))} ('fashiongpu summary --model NAME' shows it). Its recipe gives the defaults of the flags below that are not given; the defaults shown are the seed's.",
            DefaultValueFactory = _ => Presets.Default,
            HelpName = "NAME",
        };
        model.Validators.Add(r => { if (Options.TryGet<string>(r, out var v) && SettingRules.Model(v) is { } problem) r.AddError(problem); });
        var schedule = new Option<string>("--lr-schedule")
        {
            Description = "How the learning rate changes per epoch: constant, step (/10 after half the epochs, /100 after three quarters), cosine (to near 0), onecycle (up from lr/25 over 30% of the epochs, then down to lr/1e4). The rate of each epoch is in metrics.csv.",
            DefaultValueFactory = _ => defaults.LrSchedule,
            HelpName = "NAME",
        };
        schedule.Validators.Add(r => { if (Options.TryGet<string>(r, out var v) && SettingRules.Schedule(v) is { } problem) r.AddError(problem); });
        var warmup = new Option<int>("--warmup-epochs") { Description = "Epochs of linear warm-up to --lr first (for onecycle: the length of its rise).", DefaultValueFactory = _ => defaults.WarmupEpochs, HelpName = "N" };
        warmup.Validators.Add(r => { if (Options.TryGet<int>(r, out var v) && v < 0) r.AddError($"--warmup-epochs must be at least 0 (got {v})"); });
        var weightDecay = new Option<double>("--weight-decay") { Description = "Decoupled weight decay (AdamW) of the weights; biases and batch-norm parameters are not decayed.", DefaultValueFactory = _ => defaults.WeightDecay, HelpName = "X" };
        weightDecay.Validators.Add(r => { if (Options.TryGet<double>(r, out var v) && SettingRules.WeightDecay(v, 0) is { } problem) r.AddError(problem); });
        var augment = Options.Augment();
        var earlyStop = Options.OptionalPositiveInt("--early-stop", "Stop when validation accuracy has not improved for N epochs (best.safetensors keeps the best).");
        var evaluate = new Option<string>("--evaluate") { Description = "Which weights the final test evaluation uses: last, or best (the epoch with the best validation accuracy, best.safetensors).", DefaultValueFactory = _ => defaults.EvaluateWeights, HelpName = "best|last" };
        evaluate.Validators.Add(r => { if (Options.TryGet<string>(r, out var v) && SettingRules.Evaluate(v) is { } problem) r.AddError(problem); });
        var resume = new Option<string?>("--resume")
        {
            Description = "Continue the run in DIR after its last completed epoch (from the start if none was completed), with its settings, device, weights, optimizer state and random streams; appends to DIR/metrics.csv. --epochs may raise the epoch count; --accelerator/--device move it to another device (then it is not bit-identical).",
            HelpName = "DIR",
        };

        var command = new Command("train", "Train a model (the seed's CNN by default) on Fashion-MNIST. Writes OUT/metrics.csv (a row per epoch), OUT/model.safetensors (after every epoch), OUT/best.safetensors (the best validation epoch) and OUT/summary.json.")
        {
            devices.Accelerator, devices.Device, model, epochs, batchSize, lr, schedule, warmup, weightDecay, dropout, augment, seed, valSplit, earlyStop, evaluate,
            limitTrain, limitTest, data, download, output, force, init, resume, onnx, profile,
        };
        command.SetAction(parse => Run(parse, CommandLine.WatchInterrupts()));
        int Run(ParseResult parse, CancellationToken cancel)
        {
            TrainingConfig config;
            ResumePlan? plan = null;
            string outDir;
            if (parse.GetValue(resume) is { } resumeDir)
            {
                foreach (var o in new Option[] { model, batchSize, lr, schedule, warmup, weightDecay, dropout, augment, seed, valSplit, earlyStop, evaluate, limitTrain, limitTest, init, output, force })
                    if (parse.GetResult(o) is { Implicit: false })
                        throw new UsageException($"{o.Name} cannot be combined with --resume: the run's settings come from {resumeDir}");
                plan = Resume.Load(resumeDir, parse.GetResult(epochs) is { Implicit: false } ? parse.GetValue(epochs) : null);
                config = plan.Config;
                outDir = resumeDir;
            }
            else
            {
                // The preset's recipe, then every flag the user gave.
                string name = parse.GetValue(model)!;
                var recipe = Presets.Find(name)!.Recipe(new TrainingConfig { Model = name });
                T Given<T>(Option<T> o, T fromRecipe) => parse.GetResult(o) is { Implicit: false } ? parse.GetValue(o)! : fromRecipe;
                var (d1, d2) = parse.GetResult(dropout) is { Implicit: false } ? Options.ParseDropout(parse.GetValue(dropout)!) : (recipe.Dropout1, recipe.Dropout2);
                var (shift, flip) = parse.GetResult(augment) is { Implicit: false } ? Options.ParseAugment(parse.GetValue(augment)!) : (recipe.AugmentShift, recipe.AugmentFlip);
                config = recipe with
                {
                    Epochs = Given(epochs, recipe.Epochs),
                    BatchSize = Given(batchSize, recipe.BatchSize),
                    LearningRate = Given(lr, recipe.LearningRate),
                    LrSchedule = Given(schedule, recipe.LrSchedule),
                    WarmupEpochs = Given(warmup, recipe.WarmupEpochs),
                    WeightDecay = Given(weightDecay, recipe.WeightDecay),
                    Seed = parse.GetValue(seed),
                    ValSplit = Given(valSplit, recipe.ValSplit),
                    Dropout1 = d1,
                    Dropout2 = d2,
                    AugmentShift = shift,
                    AugmentFlip = flip,
                    EarlyStop = parse.GetResult(earlyStop) is { Implicit: false } ? parse.GetValue(earlyStop) : recipe.EarlyStop,
                    EvaluateWeights = Given(evaluate, recipe.EvaluateWeights),
                    LimitTrain = parse.GetValue(limitTrain),
                    LimitTest = parse.GetValue(limitTest),
                    InitFrom = parse.GetValue(init),
                };
                if (SettingRules.Problems(config).FirstOrDefault() is { } problem) throw new UsageException(problem);
                outDir = parse.GetValue(output) ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            }
            // A setting restored by --resume is named with the file it came from.
            string Setting(string flag) => plan is null ? flag : $"{flag} (saved in {plan.SettingsFile})";
            if (plan?.Point is null && config.InitFrom is { } initPath)
            {
                if (!File.Exists(initPath)) throw new UsageException($"{Setting("--init")}: {initPath} does not exist");
                // Read it now, so a file that does not fit the model costs one line, not an output directory.
                ModelCheckpoint.Load(initPath, Presets.Create(config));
            }

            var (train, test, dataDir) = DataLoading.Load(parse.GetValue(data), parse.GetValue(download), cancel);
            DataLoading.CheckLimit(Setting("--limit-train"), config.LimitTrain, train.Count, "training", dataDir);
            DataLoading.CheckLimit(Setting("--limit-test"), config.LimitTest, test.Count, "test", dataDir);
            var (trainCount, valCount) = config.Split(train.Count);
            if (trainCount < 1) throw new UsageException($"{Setting("--val-split")} {config.ValSplit} leaves no training samples out of {trainCount + valCount}");

            using var device = devices.Open(parse, plan?.Accelerator);
            var entry = device.Entry;
            long needed = Presets.Create(config).DeviceBytes(config.BatchSize) + train.Pixels.Length + test.Pixels.Length;
            if (needed > entry.MemoryBytes)
                throw new UsageException($"{Setting("--batch-size")} {config.BatchSize} needs about {DevicesCommand.FormatBytes(needed)} on {entry.Id}, which has {DevicesCommand.FormatBytes(entry.MemoryBytes)}; use a smaller --batch-size");
            if (config.BatchSize > trainCount) throw new UsageException($"{Setting("--batch-size")} {config.BatchSize} is larger than the {trainCount} training samples (1..{trainCount})");

            if (plan is null) OutputDirectory.Prepare(outDir, parse.GetValue(force));
            else PrintResume(plan, outDir, entry.Id);

            var acc = device.Accelerator;
            Console.WriteLine($"Accelerator: {entry.Id} {entry.Name}");
            Console.WriteLine($"Data: {dataDir}");
            var compileClock = System.Diagnostics.Stopwatch.StartNew();
            var kernels = new KernelLibrary(acc);
            var observer = new ConsoleTrainingObserver(config, compileClock.Elapsed.TotalSeconds, plan?.CompletedEpochs ?? 0);
            string resumeHint = $"./fashiongpu train --resume {outDir}";
            try
            {
                TrainingRun.Execute(kernels, entry.Id, config, train, test, outDir, observer, cancel, plan?.Point, parse.GetValue(profile), parse.GetValue(onnx));
            }
            catch (OperationCanceledException)
            {
                observer.ClearProgress();
                Console.Error.WriteLine(observer.CompletedEpochs == 0
                    ? $"fashiongpu: interrupted in epoch 1, before any epoch was completed. Resume with: {resumeHint} (it starts again from epoch 1 with the same settings)"
                    : $"fashiongpu: interrupted; {outDir} holds epochs 1-{observer.CompletedEpochs} of {config.Epochs}. Resume with: {resumeHint}");
                return ExitCodes.Interrupted;
            }
            catch (Training.Export.OnnxExportException e)
            {
                observer.ClearProgress();
                Console.Error.WriteLine($"fashiongpu: --onnx: cannot export the evaluated weights: {e.Message}; summary.json is not written");
                return ExitCodes.Failure;
            }
            catch (TrainingDivergedException e)
            {
                observer.ClearProgress();
                Console.Error.WriteLine($"fashiongpu: {e.Message}. The last good checkpoint is kept in {outDir}.");
                return ExitCodes.Failure;
            }
            catch (OutputFileException e) when (observer.HasStarted)
            {
                observer.ClearProgress();
                Console.Error.WriteLine($"fashiongpu: {e.Message}; {outDir} keeps every completed epoch: free space, then resume with: {resumeHint}");
                return ExitCodes.For(e);
            }
            string best = File.Exists(Path.Combine(outDir, TrainingRun.BestFile)) ? $"{TrainingRun.BestFile}, " : "";
            string onnxFile = parse.GetValue(onnx) ? $", {TrainingRun.OnnxFile}" : "";
            Console.WriteLine($"Wrote {outDir}/: {TrainingRun.RunFile}, {MetricsLog.FileName}, {TrainingRun.ModelFile}, {best}{TrainingRun.SummaryFile}, " +
                              $"{RunPictures.ConfusionPng}, {RunPictures.ConfusionCsv}, {RunPictures.PerClassCsv}, {RunPictures.SamplesPng}, {RunPictures.CurvesPng}{onnxFile}");
            return ExitCodes.Success;
        }

        // Only once every check has passed: the notes say what is about to change in DIR.
        static void PrintResume(ResumePlan plan, string dir, string device)
        {
            foreach (var note in MetricsLog.TrimForResume(Path.Combine(dir, MetricsLog.FileName), plan.CompletedEpochs))
                Console.WriteLine(note);
            if (plan.Point is null)
                Console.WriteLine($"Resuming {dir} from the start: no epoch had been completed; settings from {plan.SettingsFile}.");
            else if (plan.CompletedEpochs >= plan.Config.Epochs)
                Console.WriteLine($"Resuming {dir}: all {plan.Config.Epochs} epochs are trained; writing the test evaluation and the files after it.");
            else
                Console.WriteLine($"Resuming {dir} after epoch {plan.CompletedEpochs} of {plan.Config.Epochs} (step {plan.Point.Step}).");
            if (device != plan.Accelerator)
                Console.WriteLine($"Note: the run was on {plan.Accelerator} and continues on {device}, so it will not be bit-identical to an uninterrupted run.");
        }
        return command;
    }
}

/// <summary>Prints a run as it goes: a progress line within the epoch on a terminal, one line per epoch, the test result.</summary>
public sealed class ConsoleTrainingObserver(TrainingConfig config, double compileSeconds, int completedEpochs) : ITrainingObserver
{
    private readonly bool interactive = !Console.IsOutputRedirected;
    private int shownLength;
    private double? lastEpochSeconds;

    /// <summary>Epochs whose row and checkpoint are written, counting those before a resume.</summary>
    public int CompletedEpochs { get; private set; } = completedEpochs;

    /// <summary>True once training has begun in the output directory (its run.json is written).</summary>
    public bool HasStarted { get; private set; }

    public void Started(TrainingRunInfo info)
    {
        HasStarted = true;
        Console.WriteLine($"Samples: {info.TrainSamples} train, {info.ValSamples} validation, {info.TestSamples} test; " +
                          $"{info.StepsPerEpoch} steps of {config.BatchSize} per epoch, {config.Epochs} epochs");
        // From process start to here: runtime start-up, data loading and upload, kernel compilation.
        double sinceStart = (DateTime.Now - System.Diagnostics.Process.GetCurrentProcess().StartTime).TotalSeconds;
        Console.WriteLine($"First step {sinceStart:0.0} s after start (kernels compiled in {compileSeconds:0.0} s)");
    }

    public void Progress(int epoch, StepProgress p)
    {
        if (!interactive) return;
        string line = ProgressLine(epoch, config.Epochs, p, lastEpochSeconds);
        // Pad over a longer line written before (the \r only moves the cursor).
        Console.Write("\r" + line.PadRight(shownLength));
        shownLength = line.Length;
    }

    /// <summary>
    /// The progress line: a bar, steps, running loss and accuracy, samples/s, and the time left in
    /// the epoch and in the run (each later epoch taken as long as the last complete one, or, in
    /// the first, as this one's pace predicts).
    /// </summary>
    public static string ProgressLine(int epoch, int epochs, StepProgress p, double? lastEpochSeconds)
    {
        const int width = 30;
        int filled = (int)((long)width * p.Step / p.Steps);
        double perStep = p.Seconds / Math.Max(1, p.Step), leftInEpoch = perStep * (p.Steps - p.Step);
        double leftInRun = leftInEpoch + (epochs - epoch) * (lastEpochSeconds ?? perStep * p.Steps);
        string rate = p.Seconds > 0 ? $"{p.Samples / p.Seconds:0} samples/s" : "- samples/s";
        return $"epoch {epoch}/{epochs} [{new string('#', filled)}{new string('.', width - filled)}] {p.Step}/{p.Steps} " +
               $"loss {p.Loss:0.0000} acc {p.Accuracy:P2}  {rate}  {Duration(leftInEpoch)} left in epoch, {Duration(leftInRun)} in run";
    }

    /// <summary>m:ss, or h:mm:ss from an hour on.</summary>
    public static string Duration(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, Math.Round(seconds)));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}" : $"{t.Minutes}:{t.Seconds:00}";
    }

    public void ClearProgress()
    {
        if (shownLength == 0) return;
        Console.Write("\r" + new string(' ', shownLength) + "\r");
        shownLength = 0;
    }

    public void EpochDone(EpochMetrics m)
    {
        ClearProgress();
        CompletedEpochs = m.Epoch;
        lastEpochSeconds = m.EpochSeconds;
        string val = m.ValLoss is { } vl ? $"  val_loss {vl:0.0000}  val_acc {m.ValAccuracy:P2}" : "";
        Console.WriteLine($"epoch {m.Epoch}/{config.Epochs}  loss {m.TrainLoss:0.0000}  acc {m.TrainAccuracy:P2}{val}  {m.EpochSeconds:0.0} s  {m.SamplesPerSecond:0} samples/s");
    }

    public void Profiled(IReadOnlyList<ProfileRow> rows, string csvPath)
    {
        Console.WriteLine($"Time per layer over the first epoch's steps (a synchronisation after every layer; {csvPath}):");
        var table = new TextTable("phase", "layer", "ms/step", "% of step", "GFLOP/s");
        foreach (var r in rows)
            table.Add(r.Phase.ToString().ToLowerInvariant(), r.Layer, r.MillisecondsPerStep.ToString("0.000"), $"{r.PercentOfStep:0.0}%", r.Gflops?.ToString("0.00") ?? "-");
        table.Add("all", "step", rows.Sum(r => r.MillisecondsPerStep).ToString("0.000"), "100.0%", "-");
        table.Write(Console.Out);
    }

    public void Exported(string description) => Console.WriteLine(description);

    public void Finished(RunOutcome o)
    {
        var w = o.Weights;
        if (w.StoppedAfterEpoch is { } stopped)
            Console.WriteLine($"Stopped early after epoch {stopped}: validation accuracy has not improved since epoch {w.BestEpoch} (--early-stop {config.EarlyStop}).");
        string which = w.Which == "best" ? $"best weights, epoch {w.Epoch} (validation accuracy {w.BestValAccuracy:P2})" : $"last weights, epoch {w.Epoch}";
        Console.WriteLine($"Test accuracy {o.Test.Accuracy:P2} (loss {o.Test.Loss:0.0000}) on {o.Test.Count} images with the {which}; {o.TotalSeconds:0.0} s in all.");
        RunPictures.WriteEvaluation(o.OutputDirectory, o.Test, o.TestImages);
        // From the log rather than this process's memory: a resumed run's curves start at epoch 1.
        RunPictures.WriteCurves(o.OutputDirectory, MetricsReader.Read(o.MetricsPath).Epochs);
    }
}
