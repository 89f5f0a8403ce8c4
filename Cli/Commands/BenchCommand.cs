using System.CommandLine;
using FashionGpu.Kernels;
using FashionGpu.Training;

namespace FashionGpu.Cli.Commands;

/// <summary><c>fashiongpu bench</c>: the median time of a whole training step on one device, per batch size.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var devices = new DeviceOptions();
        var batches = new Option<string>("--batch-sizes")
        {
            Description = "Comma-separated batch sizes to time, each 1..1024.",
            DefaultValueFactory = _ => "64,128,256",
            HelpName = "N,N,...",
        };
        batches.Validators.Add(r =>
        {
            try { ParseBatches(r.GetValueOrDefault<string>() ?? ""); }
            catch (UsageException e) { r.AddError(e.Message); }
        });
        var rounds = Options.PositiveInt("--rounds", "Timed rounds per batch size; the median round is reported.", 5);
        var steps = Options.PositiveInt("--steps", "Training steps per round.", 5);
        var command = new Command("bench",
            "Time a whole training step (gather, forward, loss, backward, Adam, one synchronisation) of the seed's model on synthetic data: median ms/step, samples/s and GFLOP/s per batch size.")
        {
            devices.Accelerator, devices.Device, batches, rounds, steps,
        };
        command.SetAction(parse =>
        {
            var sizes = ParseBatches(parse.GetValue(batches)!);
            using var device = devices.Open(parse);
            var kernels = new KernelLibrary(device.Accelerator);
            Console.WriteLine($"Step benchmark on {device.Entry.Id} {device.Entry.Name} ({kernels.Policy.Gemm} variant); median of {parse.GetValue(rounds)} rounds of {parse.GetValue(steps)} steps:");
            var table = new TextTable("batch", "ms/step", "samples/s", "GFLOP/s");
            foreach (int batch in sizes)
            {
                using var bench = new StepBenchmark(kernels, batch);
                double ms = bench.MedianMilliseconds(parse.GetValue(rounds), parse.GetValue(steps));
                table.Add(batch, ms.ToString("0.00"), (batch * 1000 / ms).ToString("0"), (StepBenchmark.FlopsPerStep(batch) / ms / 1e6).ToString("0.0"));
            }
            table.Write(Console.Out);
            return ExitCodes.Success;
        });
        return command;
    }

    private static int[] ParseBatches(string text)
    {
        var parts = text.Split(',');
        var sizes = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i].Trim(), out sizes[i]) || sizes[i] < 1 || sizes[i] > 1024)
                throw new UsageException($"--batch-sizes must be batch sizes in 1..1024 separated by commas, like 64,128,256 (got '{text}')");
        return sizes;
    }
}
