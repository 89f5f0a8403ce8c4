using System.CommandLine;
using FashionGpu.Kernels;
using ILGPU.Runtime;

namespace FashionGpu.Cli;

/// <summary>Exit codes shared by every command.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The command ran and its answer is "no" (a failed self-test, a diverged run).</summary>
    public const int Failure = 1;
    /// <summary>Bad flags or bad input files, or an output path that cannot be written: one line on stderr says which and why.</summary>
    public const int Usage = 2;
    /// <summary>An output file could not be written for want of space, or the storage failed (an I/O error, reading or writing).</summary>
    public const int WriteFailed = 3;
    /// <summary>Stopped by Ctrl-C or SIGTERM.</summary>
    public const int Interrupted = 130;

    /// <summary>The exit code for a file that could not be written.</summary>
    public static int For(Training.OutputFileException e) => e.Failure == Training.WriteFailure.Path ? Usage : WriteFailed;
}

/// <summary>An error in what the user gave us; its message is one line naming the flag or file.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>Parsing, error reporting and the options several commands share.</summary>
public static class CommandLine
{
    /// <summary>Cancelled by Ctrl-C or SIGTERM while a command runs.</summary>
    public static CancellationToken Interrupted { get; private set; }

    private static bool watchingInterrupts;

    /// <summary>
    /// For commands that stop cleanly between steps (train): from now on Ctrl-C and SIGTERM
    /// cancel <see cref="Interrupted"/> instead of ending the process. Other commands end at once.
    /// </summary>
    public static CancellationToken WatchInterrupts()
    {
        watchingInterrupts = true;
        return Interrupted;
    }

    /// <summary>Parses and runs; usage errors and bad input become one line on stderr and exit code 2.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        // Invariant formatting everywhere, with percentages written "91.23%" rather than "91.23 %".
        var culture = (System.Globalization.CultureInfo)System.Globalization.CultureInfo.InvariantCulture.Clone();
        culture.NumberFormat.PercentPositivePattern = 1;
        culture.NumberFormat.PercentNegativePattern = 1;
        System.Globalization.CultureInfo.DefaultThreadCurrentCulture = System.Globalization.CultureInfo.CurrentCulture = culture;

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line: the most specific error (an unknown word explains a missing command), whitespace collapsed.
            var error = parse.Errors.OrderBy(e => e.Message.StartsWith("Required command", StringComparison.Ordinal)).First();
            Console.Error.WriteLine($"fashiongpu: {string.Join(' ', error.Message.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))}");
            Console.Error.WriteLine($"Try '{string.Join(' ', CommandPath(parse.CommandResult.Command, root))} --help'.");
            return ExitCodes.Usage;
        }
        // Ctrl-C (and SIGTERM) cancel Interrupted; a command that watches it stops between steps,
        // any other ends at once, and so does a second Ctrl-C.
        using var interrupt = new CancellationTokenSource();
        Interrupted = interrupt.Token;
        ConsoleCancelEventHandler onCtrlC = (_, e) => { e.Cancel = watchingInterrupts && !interrupt.IsCancellationRequested; interrupt.Cancel(); };
        Console.CancelKeyPress += onCtrlC;
        using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM,
            c => { c.Cancel = watchingInterrupts; interrupt.Cancel(); });
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"fashiongpu: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Training.OutputFileException e)
        {
            Console.Error.WriteLine($"fashiongpu: {e.Message}");
            return ExitCodes.For(e);
        }
        catch (KernelCompilationException e)
        {
            Console.Error.WriteLine($"fashiongpu: {e.Message}");
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read or write no more specific handler named (the OS's message names the path).
            Console.Error.WriteLine($"fashiongpu: I/O error: {string.Join(' ', e.Message.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))}");
            return ExitCodes.WriteFailed;
        }
        finally
        {
            Console.CancelKeyPress -= onCtrlC;
        }
    }

    /// <summary>Exceptions whose message is meant for the user as it is.</summary>
    public static bool IsUserError(Exception e) =>
        e is UsageException or DeviceSelectionException or Training.Data.DataFileException or Training.Checkpoints.CheckpointFileException
            or Training.MetricsFileException;

    private static IEnumerable<string> CommandPath(Command command, RootCommand root)
    {
        var names = new List<string>();
        for (Command? c = command; c is not null && c != root; c = c.Parents.OfType<Command>().FirstOrDefault()) names.Insert(0, c.Name);
        names.Insert(0, "fashiongpu");
        return names;
    }
}

/// <summary>The --accelerator and --device options every computing command takes, and the device they name.</summary>
public sealed class DeviceOptions
{
    public Option<string> Accelerator { get; } = AcceleratorOption();
    public Option<int?> Device { get; } = DeviceOption();

    /// <summary>Whether the user named a device with --accelerator or --device.</summary>
    public bool Given(ParseResult parse) => parse.GetResult(Accelerator) is { Implicit: false } || parse.GetResult(Device) is { Implicit: false };

    /// <summary>
    /// Finds the device the flags name, or throws a one-line error naming what is present.
    /// Without flags and with <paramref name="saved"/> (a resumed run's <c>kind:index</c>), that device.
    /// </summary>
    public OpenedDevice Open(ParseResult parse, string? saved = null)
    {
        string kindText = parse.GetValue(Accelerator)!;
        if (!DeviceEntry.TryParseKind(kindText, out var kind))
            throw new UsageException($"--accelerator: unknown kind '{kindText}' (auto, cpu, opencl, cuda)");
        int? index = parse.GetValue(Device);
        if (saved is not null && !Given(parse))
        {
            var parts = saved.Split(':');
            if (parts.Length != 2 || !DeviceEntry.TryParseKind(parts[0], out kind) || kind == AcceleratorKind.Auto || !int.TryParse(parts[1], out int savedIndex))
                throw new UsageException($"--resume: the run's saved device '{saved}' is not KIND:INDEX; pass --accelerator (and --device) to choose one");
            index = savedIndex;
        }
        var catalog = new DeviceCatalog();
        try
        {
            try
            {
                return new OpenedDevice(catalog, catalog.Select(kind, index));
            }
            catch (DeviceSelectionException e) when (saved is not null && !Given(parse))
            {
                throw new UsageException($"--resume: the run was on {saved}, which is not here ({e.Message}); pass --accelerator (and --device) to continue it on another device");
            }
        }
        catch
        {
            catalog.Dispose();
            throw;
        }
    }

    private static Option<string> AcceleratorOption() => new Option<string>("--accelerator", "-a")
    {
        Description = "Which accelerator to use: auto (CUDA, then an OpenCL GPU, then an OpenCL CPU device, then the CPU accelerator), cpu, opencl or cuda.",
        DefaultValueFactory = _ => "auto",
        HelpName = "auto|cpu|opencl|cuda",
    }.AcceptOnlyFromAmong("auto", "cpu", "opencl", "cuda");

    private static Option<int?> DeviceOption()
    {
        var option = new Option<int?>("--device", "-d")
        {
            Description = "Index among the devices of the chosen kind (see 'fashiongpu devices'); default 0.",
            HelpName = "N",
        };
        option.Validators.Add(r =>
        {
            if (Options.TryGet<int?>(r, out var v) && v is < 0) r.AddError("--device must be 0 or more");
        });
        return option;
    }
}

/// <summary>A chosen device; its accelerator is created on first use, so a command can check the device first.</summary>
public sealed class OpenedDevice(DeviceCatalog catalog, DeviceEntry entry) : IDisposable
{
    private Accelerator? accelerator;

    public DeviceEntry Entry => entry;
    public Accelerator Accelerator => accelerator ??= catalog.Create(entry);

    public void Dispose()
    {
        accelerator?.Dispose();
        catalog.Dispose();
    }
}
