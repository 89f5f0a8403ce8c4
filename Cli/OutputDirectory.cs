namespace FashionGpu.Cli;

/// <summary>Guards a run's output directory so one run never silently overwrites another.</summary>
public static class OutputDirectory
{
    /// <summary>Creates <paramref name="dir"/>, or refuses a non-empty one unless <paramref name="force"/>.</summary>
    public static void Prepare(string dir, bool force)
    {
        if (File.Exists(dir)) throw new UsageException($"--out: {dir} is a file, not a directory");
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any() && !force)
            throw new UsageException($"--out: {dir} is not empty; choose another directory, or pass --force to replace its files");
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--out: cannot create {dir}: {e.Message}");
        }
    }
}
