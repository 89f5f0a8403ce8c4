using FashionGpu.Training.Data;

namespace FashionGpu.Cli;

/// <summary>Finds, optionally downloads, and reads Fashion-MNIST for the commands.</summary>
public static class DataLoading
{
    public static string HomeDirectory => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>The training and test sets and the directory they came from; one-line errors for everything a user can fix.</summary>
    public static (ImageSet Train, ImageSet Test, string Directory) Load(string? dataFlag, bool download, CancellationToken cancel)
    {
        string directory;
        try
        {
            directory = DatasetLocator.Locate(dataFlag).Directory;
        }
        catch (DataFileException) when (download && dataFlag is null)
        {
            directory = DatasetLocator.KerasCacheDirectory(HomeDirectory);
            Console.WriteLine($"Downloading Fashion-MNIST into {directory} ...");
            using var client = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
            DatasetDownloader.DownloadAsync(DatasetDownloader.DefaultBaseUri, directory, client, cancel).GetAwaiter().GetResult();
        }
        var (train, test) = FashionMnist.Load(directory);
        return (train, test, directory);
    }

    /// <summary>Refuses a --limit-train/--limit-test <paramref name="limit"/> above the <paramref name="available"/> samples (named by <paramref name="flag"/>).</summary>
    public static void CheckLimit(string flag, int? limit, int available, string what, string directory)
    {
        if (limit > available)
            throw new UsageException($"{flag} {limit} is more than the {available} {what} samples in {directory} (1..{available}, or leave it out for all)");
    }
}
