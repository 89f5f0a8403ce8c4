namespace FashionGpu.Training;

/// <summary>What went wrong opening or reading a file, in words for a one-line message.</summary>
internal static class FileProblems
{
    /// <summary>The problem an I/O exception stands for, or null for any other exception.</summary>
    public static string? Describe(Exception e) => e switch
    {
        FileNotFoundException => "file not found",
        DirectoryNotFoundException => "file not found (its directory does not exist)",
        UnauthorizedAccessException => "permission denied (cannot open for reading)",
        IOException io => $"read error: {io.Message}",
        _ => null,
    };
}
