namespace FashionGpu.Training.Data;

/// <summary>A directory where the dataset may be, and what named it (shown to the user).</summary>
public sealed record DatasetCandidate(string Directory, string Source);

/// <summary>
/// Where the locator looks, as inputs rather than globals so tests can substitute them.
/// </summary>
/// <param name="GetVariable">Reads an environment variable (null when unset).</param>
/// <param name="HomeDirectory">The user's home directory, or null when there is none.</param>
/// <param name="SystemDirectory">Where the Debian package installs the dataset.</param>
public sealed record LocatorEnvironment(
    Func<string, string?> GetVariable, string? HomeDirectory, string SystemDirectory)
{
    /// <summary>The real process environment, home directory and system path.</summary>
    public static LocatorEnvironment Current => new(
        Environment.GetEnvironmentVariable,
        NullIfEmpty(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile)),
        DatasetLocator.SystemDirectory);

    internal static string? NullIfEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}

/// <summary>
/// Finds the Fashion-MNIST files. Order: <c>--data DIR</c>, then <c>$FASHION_MNIST_DIR</c>,
/// then the Keras cache <c>~/.keras/datasets/fashion-mnist</c>, then the Debian package's
/// <c>/usr/share/datasets/fashion-mnist</c>.
/// </summary>
public static class DatasetLocator
{
    public const string EnvironmentVariable = "FASHION_MNIST_DIR";
    public const string SystemDirectory = "/usr/share/datasets/fashion-mnist";
    public const string DataFlagSource = "--data";
    public const string KerasCacheSource = "keras cache";
    public const string SystemSource = "package dataset-fashion-mnist";

    /// <summary>Where Keras caches the dataset under a home directory (also where --download puts it).</summary>
    public static string KerasCacheDirectory(string homeDirectory) =>
        Path.Combine(homeDirectory, ".keras", "datasets", "fashion-mnist");

    public static IReadOnlyList<DatasetCandidate> Candidates(string? dataFlag) =>
        Candidates(dataFlag, LocatorEnvironment.Current);

    /// <summary>The places to look, in order. With <paramref name="dataFlag"/> given, only that one.</summary>
    public static IReadOnlyList<DatasetCandidate> Candidates(string? dataFlag, LocatorEnvironment environment)
    {
        // An explicit --data is the user's decision; silently falling back to another copy
        // would train on data they did not ask for.
        if (dataFlag is not null)
        {
            return [new DatasetCandidate(dataFlag, DataFlagSource)];
        }

        var candidates = new List<DatasetCandidate>();
        if (LocatorEnvironment.NullIfEmpty(environment.GetVariable(EnvironmentVariable)) is { } fromEnv)
        {
            candidates.Add(new DatasetCandidate(fromEnv, EnvironmentVariable));
        }

        if (environment.HomeDirectory is { } home)
        {
            candidates.Add(new DatasetCandidate(KerasCacheDirectory(home), KerasCacheSource));
        }

        candidates.Add(new DatasetCandidate(environment.SystemDirectory, SystemSource));
        return candidates;
    }

    public static DatasetCandidate Locate(string? dataFlag) => Locate(dataFlag, LocatorEnvironment.Current);

    /// <summary>
    /// The first candidate holding all four files (as NAME.gz or NAME). Only checks that they
    /// exist; reading them is <see cref="FashionMnist.Load"/>'s job.
    /// </summary>
    /// <exception cref="DataFileException">No candidate holds the files; the message lists where it looked.</exception>
    public static DatasetCandidate Locate(string? dataFlag, LocatorEnvironment environment)
    {
        var candidates = Candidates(dataFlag, environment);
        if (dataFlag is not null)
        {
            var problem = Problem(dataFlag);
            return problem is null
                ? candidates[0]
                : throw DataFileException.For(dataFlag, $"--data directory {problem}");
        }

        var searched = new List<string>();
        foreach (var candidate in candidates)
        {
            var problem = Problem(candidate.Directory);
            if (problem is null)
            {
                return candidate;
            }

            searched.Add($"{candidate.Directory} ({candidate.Source}: {problem})");
        }

        throw new DataFileException(
            $"Fashion-MNIST not found; searched {string.Join(", ", searched)}. " +
            $"Get it with `apt-get install dataset-fashion-mnist` or `fashiongpu train --download`, " +
            $"or point --data or {EnvironmentVariable} at a directory holding the four IDX files.");
    }

    /// <summary>Why <paramref name="directory"/> does not hold the dataset, or null when it does.</summary>
    private static string? Problem(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return File.Exists(directory) ? "is a file, not a directory" : "does not exist";
        }

        var missing = FashionMnist.MissingFiles(directory);
        return missing.Count == 0 ? null : $"lacks {string.Join(", ", missing.Select(m => m + "[.gz]"))}";
    }
}
