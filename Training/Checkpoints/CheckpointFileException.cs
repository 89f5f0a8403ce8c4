namespace FashionGpu.Training.Checkpoints;

/// <summary>
/// A checkpoint file that cannot be written, read or used: the message is one line,
/// "PATH: PROBLEM", fit to show the user without a stack trace.
/// </summary>
public sealed class CheckpointFileException : Exception
{
    public CheckpointFileException(string message)
        : base(message.ReplaceLineEndings(" ").Trim())
    {
    }

    public CheckpointFileException(string message, Exception innerException)
        : base(message.ReplaceLineEndings(" ").Trim(), innerException)
    {
    }

    public static CheckpointFileException For(string path, string problem, Exception? inner = null) =>
        inner is null
            ? new CheckpointFileException($"{path}: {problem}")
            : new CheckpointFileException($"{path}: {problem}", inner);
}
