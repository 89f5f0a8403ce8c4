using FashionGpu.Tests.Kernels;
using NUnit.Framework;

namespace FashionGpu.Tests;

/// <summary>
/// Runs once around the whole test assembly (it sits in the root namespace): the accelerators
/// are shared by the kernel, training and CLI tests and are released only after all of them,
/// and every test's files live under one temporary directory of this run, removed at the end.
/// </summary>
[SetUpFixture]
public sealed class TestRun
{
    private static readonly Lazy<string> root = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), "fashiongpu-tests", $"{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    });

    /// <summary>A new empty directory under this run's temporary directory.</summary>
    public static string TempDir()
    {
        string dir = Path.Combine(root.Value, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    [OneTimeTearDown]
    public void AfterAllTests()
    {
        Backends.DisposeAll();
        if (root.IsValueCreated) Directory.Delete(root.Value, recursive: true);
    }
}
