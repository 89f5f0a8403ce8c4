namespace FashionGpu.Cli;

/// <summary>Checks the output paths a user names before any work is done, so a bad one costs one line, not a run.</summary>
public static class OutputDirectory
{
    /// <summary>Creates <paramref name="dir"/>, or refuses a non-empty one unless <paramref name="force"/>.</summary>
    public static void Prepare(string dir, bool force)
    {
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any() && !force)
            throw new UsageException($"--out: {dir} is not empty; choose another directory, or pass --force to replace its files");
        Ensure("--out", dir);
    }

    /// <summary>Creates <paramref name="dir"/> (and its parents) if needed; one line naming <paramref name="flag"/> when it cannot be.</summary>
    public static void Ensure(string flag, string dir)
    {
        if (File.Exists(dir)) throw new UsageException($"{flag}: {dir} is a file, not a directory");
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{flag}: cannot create {dir}: {e.Message}");
        }
    }

    /// <summary>Refuses an output file path that is a directory or whose directory does not exist.</summary>
    public static void CheckFile(string flag, string path)
    {
        if (Directory.Exists(path)) throw new UsageException($"{flag}: {path} is a directory; name a file");
        string? parent = Path.GetDirectoryName(Path.GetFullPath(path));
        if (parent is not null && !Directory.Exists(parent))
            throw new UsageException($"{flag}: the directory {parent} does not exist");
    }
}
