using System.CommandLine;
using System.Diagnostics;
using FashionGpu.Kernels;
using FashionGpu.Kernels.Verification;

namespace FashionGpu.Cli.Commands;

/// <summary>
/// <c>fashiongpu selftest</c>: every kernel, forward and backward, on one device against the
/// plain C# reference. How a user proves that a device we never saw computes correctly.
/// </summary>
public static class SelftestCommand
{
    public static Command Create()
    {
        var devices = new DeviceOptions();
        var variant = new Option<string>("--variant")
        {
            Description = "Which GEMM kernel variant to check: auto (the one the device uses), all, or one of " +
                string.Join(", ", Enum.GetNames<GemmVariant>().Select(n => n.ToLowerInvariant())) + ".",
            DefaultValueFactory = _ => "auto",
            HelpName = "auto|all|" + string.Join("|", Enum.GetNames<GemmVariant>().Select(n => n.ToLowerInvariant())),
        }.AcceptOnlyFromAmong(["auto", "all", .. Enum.GetNames<GemmVariant>().Select(n => n.ToLowerInvariant())]);
        var command = new Command("selftest",
            $"Run every kernel's forward and backward pass on one device against the C# reference and print the errors. " +
            $"Passes when {CheckResult.Rule}. Exit code 0 only when all pass.")
        {
            devices.Accelerator, devices.Device, variant,
        };
        command.SetAction(parse =>
        {
            using var device = devices.Open(parse);
            var entry = device.Entry;
            Console.WriteLine($"Self-test on {entry.Id}: {entry.Name}");
            var acc = device.Accelerator;
            var clock = Stopwatch.StartNew();
            string which = parse.GetValue(variant)!;
            GemmVariant?[] variants = which switch
            {
                "auto" => [null],
                "all" => [.. Enum.GetValues<GemmVariant>().Select(v => (GemmVariant?)v)],
                _ => [Enum.Parse<GemmVariant>(which, ignoreCase: true)],
            };
            var results = new List<CheckResult>();
            var table = new TextTable("kernel", "shape", "variant", "max abs error", "max |reference|", "error / tolerance", "result");
            foreach (var v in variants)
            {
                var kernels = new KernelLibrary(acc, v);
                Console.WriteLine($"Kernels ({kernels.Policy.Gemm} variant) compiled in {clock.Elapsed.TotalSeconds:0.00} s.");
                foreach (var r in KernelChecks.Standard().SelectMany(check => check.Run(kernels)))
                {
                    results.Add(r);
                    table.Add(r.Kernel, r.Shape, kernels.Policy.Gemm.ToString(), r.MaxAbsError.ToString("0.0e+0"), r.Scale.ToString("0.0e+0"), r.WorstRatio.ToString("0.000"), r.Passed ? "pass" : "FAIL");
                }
            }
            table.Write(Console.Out);
            int failed = results.Count(r => !r.Passed);
            Console.WriteLine();
            Console.WriteLine(failed == 0
                ? $"All {results.Count} checks passed on {entry.Id} ({clock.Elapsed.TotalSeconds:0.0} s)."
                : $"{failed} of {results.Count} checks FAILED on {entry.Id}.");
            return failed == 0 ? ExitCodes.Success : ExitCodes.Failure;
        });
        return command;
    }
}
