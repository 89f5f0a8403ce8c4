using System.CommandLine;
using FashionGpu.Kernels;

namespace FashionGpu.Cli.Commands;

/// <summary><c>fashiongpu devices</c>: every accelerator found, and which one <c>auto</c> picks.</summary>
public static class DevicesCommand
{
    public static Command Create()
    {
        var ids = new Option<bool>("--ids") { Description = "Print only each device's id (kind:index) and type (gpu or cpu), one per line, for scripts." };
        var command = new Command("devices", "List every accelerator found: kind, index, type, name, memory, max group size, and which one 'auto' picks.") { ids };
        command.SetAction(parse =>
        {
            using var catalog = new DeviceCatalog();
            if (parse.GetValue(ids))
            {
                foreach (var d in catalog.Devices) Console.WriteLine($"{d.Id} {(d.IsGpu ? "gpu" : "cpu")}");
                return ExitCodes.Success;
            }
            var auto = catalog.AutoChoice;
            var table = new TextTable("kind", "index", "type", "name", "memory", "max group", "auto");
            foreach (var d in catalog.Devices)
                table.Add(DeviceEntry.KindName(d.Kind), d.Index, d.IsGpu ? "gpu" : "cpu", d.Name, FormatBytes(d.MemoryBytes), d.MaxGroupSize, d == auto ? "<- auto" : "");
            table.Write(Console.Out);
            Console.WriteLine();
            Console.WriteLine($"auto picks {auto.Id} ({auto.Name}). Choose another with --accelerator KIND [--device N].");
            return ExitCodes.Success;
        });
        return command;
    }

    public static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 40 => "unbounded",
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.0} GiB",
        _ => $"{bytes / (double)(1L << 20):0} MiB",
    };
}
