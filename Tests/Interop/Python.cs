using System.Diagnostics;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace FashionGpu.Tests.Interop;

/// <summary>
/// Debian's Python with python3-torch and python3-onnx (scripts/install-prerequisites
/// --with-pytorch installs them): required in CI and with FASHIONGPU_REQUIRE_PYTHON=1 (a
/// missing package fails the test), a visible skip elsewhere. FASHIONGPU_PYTHON names another interpreter.
/// </summary>
public static class Python
{
    public static string Executable => Environment.GetEnvironmentVariable("FASHIONGPU_PYTHON") ?? "/usr/bin/python3";

    /// <summary>Fails (in CI) or ignores the test unless the interpreter imports <paramref name="module"/>.</summary>
    public static void Require(string module)
    {
        string why;
        try
        {
            var (code, _, err) = Run($"import {module}", Path.GetTempPath(), TimeSpan.FromMinutes(2));
            if (code == 0) return;
            why = $"{Executable} cannot import {module}: {err.Trim().Split('\n').LastOrDefault()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            why = $"{Executable} cannot be run: {e.Message}";
        }
        why += "; scripts/install-prerequisites --with-pytorch installs python3-torch and python3-onnx";
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")) || Environment.GetEnvironmentVariable("FASHIONGPU_REQUIRE_PYTHON") == "1")
            Assert.Fail(why + " (CI requires them)");
        Assert.Ignore(why);
    }

    /// <summary>Runs <paramref name="script"/> in <paramref name="directory"/>; exit code, stdout, stderr.</summary>
    public static (int ExitCode, string Out, string Err) Run(string script, string directory, TimeSpan timeout)
    {
        string file = Path.Combine(TestRun.TempDir(), "script.py");
        File.WriteAllText(file, script);
        var info = new ProcessStartInfo(Executable) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(file);
        var r = Cli.CliRunner.RunProcess(info, timeout, "python");
        return (r.ExitCode, r.Out, r.Err);
    }

    /// <summary>Runs <paramref name="script"/> and fails the test, with its output, unless it exits 0.</summary>
    public static string RunOk(string script, string directory, TimeSpan timeout)
    {
        var (code, output, err) = Run(script, directory, timeout);
        Assert.That(code, Is.EqualTo(0), $"python exited {code}\n--- script\n{script}\n--- stdout\n{output}\n--- stderr\n{err}");
        return output;
    }
}

/// <summary>The code blocks README.md marks with &lt;!-- snippet: NAME --&gt;, so the tests run exactly what a reader copies.</summary>
public static class ReadmeSnippets
{
    private static readonly Lazy<string> readme = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FashionGpu.sln"))) return File.ReadAllText(Path.Combine(dir.FullName, "README.md"));
        throw new InvalidOperationException($"no FashionGpu.sln above {AppContext.BaseDirectory}");
    });

    public static string Get(string name)
    {
        var m = Regex.Match(readme.Value, $@"<!-- snippet: {Regex.Escape(name)} -->\n```[a-z]*\n(.*?)\n```", RegexOptions.Singleline);
        Assert.That(m.Success, Is.True, $"README.md has no code block marked <!-- snippet: {name} -->");
        return m.Groups[1].Value + "\n";
    }
}
