namespace FashionGpu.Training;

/// <summary>Why a file could not be written: the path (the user can pick another) or the storage (full, failing).</summary>
public enum WriteFailure
{
    /// <summary>The directory does not exist, the path is a directory, or permission is denied.</summary>
    Path,
    /// <summary>No space left on the device (or the quota is used up).</summary>
    DiskFull,
    /// <summary>Any other I/O error from the operating system.</summary>
    Io,
}

/// <summary>A file that could not be written; the message is one line, "PATH: cannot write: REASON".</summary>
public sealed class OutputFileException(string path, WriteFailure failure, string reason, Exception? inner = null)
    : Exception($"{path}: cannot write: {reason}", inner)
{
    public string Path { get; } = path;
    public WriteFailure Failure { get; } = failure;
}

/// <summary>
/// The one way every command writes a file (metrics, checkpoints, summary, CSVs, pictures,
/// downloads): into PATH.tmp in the target's directory, flushed to disk, then renamed over
/// PATH. Readers see the old file or the new one, never a part. On any failure the temporary
/// file is deleted and an <see cref="OutputFileException"/> names the file and the reason.
/// </summary>
public static class OutputFile
{
    public static void WriteAllText(string path, string text) => Write(path, s => s.Write(System.Text.Encoding.UTF8.GetBytes(text)));

    public static void Write(string path, Action<Stream> write) =>
        WriteAsync(path, s => { write(s); return Task.CompletedTask; }).GetAwaiter().GetResult();

    /// <param name="verify">Runs on the complete temporary file before the rename; it throws to keep the file from being published.</param>
    public static async Task WriteAsync(string path, Func<Stream, Task> write, Action<string>? verify = null)
    {
        if (Directory.Exists(path)) throw new OutputFileException(path, WriteFailure.Path, "it is a directory");
        string temp = path + ".tmp";
        try
        {
            await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16, useAsync: false))
            {
                await write(stream).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }
            verify?.Invoke(temp);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException) throw Describe(path, e);
            throw;
        }
    }

    /// <summary>What an I/O exception from writing <paramref name="path"/> means, in words.</summary>
    private static OutputFileException Describe(string path, Exception e) => e switch
    {
        DirectoryNotFoundException => new(path, WriteFailure.Path, $"the directory {System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))} does not exist", e),
        UnauthorizedAccessException => new(path, WriteFailure.Path, "permission denied", e),
        IOException when IsDiskFull(e) => new(path, WriteFailure.DiskFull, "no space left on the device", e),
        _ => new(path, WriteFailure.Io, $"I/O error: {OneLine(e.Message)}", e),
    };

    // .NET reports the OS error as the IOException's HResult: errno ENOSPC (28) or EDQUOT (122) on
    // Linux, ERROR_HANDLE_DISK_FULL (0x27) or ERROR_DISK_FULL (0x70) in the low word on Windows.
    private static bool IsDiskFull(Exception e) =>
        OperatingSystem.IsWindows() ? (e.HResult & 0xFFFF) is 0x27 or 0x70 : e.HResult is 28 or 122;

    private static string OneLine(string s) => string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the error being reported matters more than a leftover temporary file.
        }
    }
}
