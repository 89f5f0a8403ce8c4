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
}
