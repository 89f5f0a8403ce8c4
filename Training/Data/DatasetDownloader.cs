using System.IO.Compression;
using System.Security.Cryptography;

namespace FashionGpu.Training.Data;

/// <summary>
/// Downloads the four Fashion-MNIST .gz files, verifying each before it is put in place.
/// </summary>
public static class DatasetDownloader
{
    /// <summary>The mirror Keras downloads Fashion-MNIST from.</summary>
    public const string DefaultBaseUrl = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/";

    public static Uri DefaultBaseUri { get; } = new(DefaultBaseUrl);

    /// <summary>
    /// SHA-256 of each file's DECOMPRESSED IDX content, keyed by file name without ".gz".
    /// The decompressed content is hashed because mirrors may recompress the files (other
    /// gzip level, header timestamp or name), which changes the .gz bytes but not the data.
    /// Computed from the Debian package dataset-fashion-mnist's files with
    /// <c>gunzip -c /usr/share/datasets/fashion-mnist/NAME.gz | sha256sum</c>.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ExpectedSha256 { get; } = new Dictionary<string, string>
    {
        [FashionMnist.TrainImagesFile] = "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        [FashionMnist.TrainLabelsFile] = "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        [FashionMnist.TestImagesFile] = "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        [FashionMnist.TestLabelsFile] = "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    };

    /// <summary>Where --download puts the files: the Keras cache, which the locator also searches.</summary>
    public static string DefaultTargetDirectory =>
        DatasetLocator.KerasCacheDirectory(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <inheritdoc cref="DownloadAsync(Uri, string, HttpClient, IReadOnlyDictionary{string, string}, CancellationToken)"/>
    public static Task<IReadOnlyList<string>> DownloadAsync(
        Uri baseUri, string targetDirectory, HttpClient client, CancellationToken ct = default) =>
        DownloadAsync(baseUri, targetDirectory, client, ExpectedSha256, ct);

    /// <summary>
    /// Fetches NAME.gz for every key of <paramref name="expectedSha256"/> from
    /// <paramref name="baseUri"/> into <paramref name="targetDirectory"/>. Each download goes
    /// to a temporary file in the target directory, is verified, then renamed into place, so
    /// an interrupted or bad download never leaves a file the loader would pick up. Files
    /// already present and valid are not downloaded again.
    /// </summary>
    /// <returns>The names (NAME.gz) of the files that were downloaded, in order.</returns>
    /// <exception cref="DataFileException">HTTP error, network error, bad content or unwritable directory.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled.</exception>
    public static async Task<IReadOnlyList<string>> DownloadAsync(
        Uri baseUri,
        string targetDirectory,
        HttpClient client,
        IReadOnlyDictionary<string, string> expectedSha256,
        CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(baseUri);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(expectedSha256);

        // Without a trailing slash, new Uri(base, name) would replace the last path segment.
        if (!baseUri.AbsoluteUri.EndsWith('/'))
        {
            baseUri = new Uri(baseUri.AbsoluteUri + "/");
        }

        try
        {
            Directory.CreateDirectory(targetDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw DataFileException.For(targetDirectory, $"cannot create the download directory: {ex.Message}", ex);
        }

        var downloaded = new List<string>();
        foreach (var (name, sha256) in expectedSha256)
        {
            var fileName = name + ".gz";
            var target = Path.Combine(targetDirectory, fileName);
            if (File.Exists(target) && IsValid(target, sha256))
            {
                continue;
            }

            await DownloadOneAsync(new Uri(baseUri, fileName), target, sha256, client, ct).ConfigureAwait(false);
            downloaded.Add(fileName);
        }

        return downloaded;
    }

    /// <summary>SHA-256 (lower-case hex) of the decompressed content of a gzip file.</summary>
    /// <exception cref="InvalidDataException">The file is not valid gzip.</exception>
    public static string DecompressedSha256(string gzipPath)
    {
        using var file = File.OpenRead(gzipPath);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        return Convert.ToHexStringLower(SHA256.HashData(gzip));
    }

    /// <summary>True when the existing file decompresses to the expected content; any problem reading it means "fetch again".</summary>
    private static bool IsValid(string path, string sha256)
    {
        try
        {
            return string.Equals(DecompressedSha256(path), sha256, StringComparison.OrdinalIgnoreCase);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static async Task DownloadOneAsync(Uri url, string target, string sha256, HttpClient client, CancellationToken ct)
    {
        try
        {
            using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw DataFileException.For(url.ToString(), $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            // Published under the real name only once the whole file is there and verified.
            await OutputFile.WriteAsync(target, output => response.Content.CopyToAsync(output, ct), verify: temp =>
            {
                string actual;
                try
                {
                    actual = DecompressedSha256(temp);
                }
                catch (InvalidDataException ex)
                {
                    throw DataFileException.For(url.ToString(), $"downloaded content is not valid gzip: {ex.Message}", ex);
                }

                if (!string.Equals(actual, sha256, StringComparison.OrdinalIgnoreCase))
                {
                    throw DataFileException.For(
                        url.ToString(), $"SHA-256 mismatch: the decompressed content hashes to {actual}, expected {sha256}");
                }
            }).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or HttpIOException)
        {
            // HttpIOException: the connection broke while the body was being read.
            throw DataFileException.For(url.ToString(), $"network error: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!ct.IsCancellationRequested)
        {
            // HttpClient reports its own timeout as a cancellation; the user did not cancel.
            throw DataFileException.For(url.ToString(), $"timed out after {client.Timeout.TotalSeconds:0} s", ex);
        }
    }
}
