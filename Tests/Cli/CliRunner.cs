using System.Diagnostics;
using NUnit.Framework;

namespace FashionGpu.Tests.Cli;

/// <summary>The result of one run of the fashiongpu command.</summary>
public sealed record CliResult(int ExitCode, string Out, string Err)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}

/// <summary>Runs the real CLI (fashiongpu.dll, copied next to the tests) as a separate process, as a user would.</summary>
public static class CliRunner
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "fashiongpu.dll");

    public static ProcessStartInfo StartInfo(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        return info;
    }

    public static CliResult Run(params string[] args) => Run(TimeSpan.FromMinutes(5), args);

    public static CliResult Run(TimeSpan timeout, params string[] args) => RunProcess(StartInfo(args), timeout, $"fashiongpu {string.Join(' ', args)}");

    /// <summary>Runs a process to its end, collecting its output; fails the test if it runs past <paramref name="timeout"/>.</summary>
    public static CliResult RunProcess(ProcessStartInfo info, TimeSpan timeout, string what)
    {
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{what} did not finish within {timeout}");
        }
        process.WaitForExit();
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    public static string TempDir() => TestRun.TempDir();

    /// <summary>A usage error: exit code 2, one line on stderr naming what was wrong (and perhaps a help hint), no stack trace.</summary>
    public static void AssertUsageError(CliResult r, params string[] mentions)
    {
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Is.Not.Empty, r.ToString());
        Assert.That(lines.Where(l => !l.StartsWith("Try '")).Count(), Is.EqualTo(1), r.ToString());
        Assert.That(lines[0], Does.StartWith("fashiongpu: "), r.ToString());
        foreach (var m in mentions) Assert.That(lines[0], Does.Contain(m), r.ToString());
        Assert.That(r.Err, Does.Not.Contain("   at "), "no stack trace");
    }
}
