namespace FashionGpu.Training.Data;

/// <summary>
/// A problem with a data file or data directory that the user can fix (missing, corrupt,
/// unreadable, wrong kind of file). The message is one line naming the path(s) involved,
/// usually "PATH: PROBLEM", so the CLI can print it as it is, without a stack trace.
/// </summary>
public sealed class DataFileException : Exception
{
    public DataFileException(string message)
        : base(OneLine(message))
    {
    }

    public DataFileException(string message, Exception innerException)
        : base(OneLine(message), innerException)
    {
    }

    /// <summary>"PATH: PROBLEM", the usual form of the message.</summary>
    public static DataFileException For(string path, string problem, Exception? inner = null) =>
        inner is null ? new DataFileException($"{path}: {problem}") : new DataFileException($"{path}: {problem}", inner);

    // Messages of wrapped exceptions (gzip, OS errors) sometimes contain line breaks; the
    // CLI promises one line per error.
    internal static string OneLine(string message) =>
        message.ReplaceLineEndings(" ").Trim();
}
