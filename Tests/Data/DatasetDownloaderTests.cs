using System.IO.Compression;
using System.Security.Cryptography;
using FashionGpu.Training.Data;
using NUnit.Framework;

namespace FashionGpu.Tests.Data;

[TestFixture]
public sealed class DatasetDownloaderTests
{
    private static readonly byte[] TrainLabels = IdxTestFiles.Labels([1, 2, 3, 4, 5]);
    private static readonly byte[] TestLabels = IdxTestFiles.Labels([9, 8]);

    private TempDir _dir = null!;
    private string _target = null!;
    private HttpClient _client = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir();
        _target = _dir.File("download-here"); // does not exist yet: the downloader creates it
        _client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
    }

    [TearDown]
    public void TearDown()
    {
        _client.Dispose();
        _dir.Dispose();
    }

    private static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private static TestHttpServer ServeBoth() => new(new Dictionary<string, byte[]>
    {
        ["train-labels-idx1-ubyte.gz"] = IdxTestFiles.Gzip(TrainLabels),
        ["t10k-labels-idx1-ubyte.gz"] = IdxTestFiles.Gzip(TestLabels),
    });

    private static Dictionary<string, string> BothHashes() => new()
    {
        ["train-labels-idx1-ubyte"] = Sha256(TrainLabels),
        ["t10k-labels-idx1-ubyte"] = Sha256(TestLabels),
    };

    private string[] FilesInTarget() =>
        Directory.Exists(_target) ? Directory.GetFiles(_target).Select(p => Path.GetFileName(p)).ToArray() : [];

    [Test]
    public async Task DownloadsAndVerifiesEveryFile()
    {
        using var server = ServeBoth();

        var downloaded = await DatasetDownloader.DownloadAsync(server.BaseUri, _target, _client, BothHashes(), CancellationToken.None);

        Assert.That(downloaded, Is.EqualTo(new[] { "train-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz" }));
        Assert.That(FilesInTarget(), Is.EquivalentTo(downloaded), "nothing but the files: no temporary files left");
        Assert.That(IdxReader.ReadLabels(Path.Combine(_target, "train-labels-idx1-ubyte.gz")), Is.EqualTo(new byte[] { 1, 2, 3, 4, 5 }));
        Assert.That(IdxReader.ReadLabels(Path.Combine(_target, "t10k-labels-idx1-ubyte.gz")), Is.EqualTo(new byte[] { 9, 8 }));
        Assert.That(server.RequestedPaths, Is.EquivalentTo(new[] { "/datasets/train-labels-idx1-ubyte.gz", "/datasets/t10k-labels-idx1-ubyte.gz" }));
    }

    [Test]
    public async Task AHashMismatchLeavesNoFileAndNamesTheUrl()
    {
        using var server = ServeBoth();
        var hashes = new Dictionary<string, string> { ["train-labels-idx1-ubyte"] = Sha256(TestLabels) };

        var ex = (await Assert.ThrowsAsync<DataFileException>(() =>
            DatasetDownloader.DownloadAsync(server.BaseUri, _target, _client, hashes, CancellationToken.None)))!;

        Assert.That(ex.Message, Does.Contain(server.BaseUri + "train-labels-idx1-ubyte.gz"));
        Assert.That(ex.Message, Does.Contain("SHA-256 mismatch").And.Contain(Sha256(TestLabels)).And.Contain(Sha256(TrainLabels)));
        Assert.That(FilesInTarget(), Is.Empty, "neither the file nor its temporary file is left");
    }

    [Test]
    public async Task A404LeavesNoFileAndNamesTheUrl()
    {
        using var server = ServeBoth();
        var hashes = new Dictionary<string, string> { ["t10k-images-idx3-ubyte"] = Sha256(TestLabels) };

        var ex = (await Assert.ThrowsAsync<DataFileException>(() =>
            DatasetDownloader.DownloadAsync(server.BaseUri, _target, _client, hashes, CancellationToken.None)))!;

        Assert.That(ex.Message, Does.Contain(server.BaseUri + "t10k-images-idx3-ubyte.gz").And.Contain("HTTP 404"));
        Assert.That(FilesInTarget(), Is.Empty);
    }

    [Test]
    public async Task ContentThatIsNotGzipIsRejected()
    {
        using var server = new TestHttpServer(new Dictionary<string, byte[]> { ["train-labels-idx1-ubyte.gz"] = TrainLabels });
        var hashes = new Dictionary<string, string> { ["train-labels-idx1-ubyte"] = Sha256(TrainLabels) };

        var ex = (await Assert.ThrowsAsync<DataFileException>(() =>
            DatasetDownloader.DownloadAsync(server.BaseUri, _target, _client, hashes, CancellationToken.None)))!;

        Assert.That(ex.Message, Does.Contain("train-labels-idx1-ubyte.gz").And.Contain("gzip"));
        Assert.That(FilesInTarget(), Is.Empty);
    }

    [Test]
    public async Task SkipsAFileThatIsAlreadyValid()
    {
        using var server = ServeBoth();
        // Same content, different compression: still valid, since the hash is of the content.
        Directory.CreateDirectory(_target);
        var existing = Path.Combine(_target, "train-labels-idx1-ubyte.gz");
        var ownCopy = GzipFastest(TrainLabels);
        File.WriteAllBytes(existing, ownCopy);

        var downloaded = await DatasetDownloader.DownloadAsync(server.BaseUri, _target, _client, BothHashes(), CancellationToken.None);

        Assert.That(downloaded, Is.EqualTo(new[] { "t10k-labels-idx1-ubyte.gz" }));
        Assert.That(server.RequestedPaths, Is.EqualTo(new[] { "/datasets/t10k-labels-idx1-ubyte.gz" }));
        Assert.That(File.ReadAllBytes(existing), Is.EqualTo(ownCopy), "the existing file was left alone");
    }

    [Test]
    public async Task ReplacesAnExistingFileThatIsNotValid()
    {
        using var server = ServeBoth();
        Directory.CreateDirectory(_target);
        var existing = Path.Combine(_target, "train-labels-idx1-ubyte.gz");
        File.WriteAllBytes(existing, [0x1f, 0x8b, 1, 2, 3]);

        var downloaded = await DatasetDownloader.DownloadAsync(server.BaseUri, _target, _client, BothHashes(), CancellationToken.None);

        Assert.That(downloaded, Does.Contain("train-labels-idx1-ubyte.gz"));
        Assert.That(DatasetDownloader.DecompressedSha256(existing), Is.EqualTo(Sha256(TrainLabels)));
    }

    [Test]
    public async Task ANetworkErrorNamesTheUrl()
    {
        var nowhere = new Uri($"http://127.0.0.1:{TestHttpServer.UnusedPort()}/datasets");

        var ex = (await Assert.ThrowsAsync<DataFileException>(() =>
            DatasetDownloader.DownloadAsync(nowhere, _target, _client, BothHashes(), CancellationToken.None)))!;

        // The base URI had no trailing slash; the file must still be resolved under /datasets/.
        Assert.That(ex.Message, Does.Contain(nowhere + "/train-labels-idx1-ubyte.gz").And.Contain("network error"));
        Assert.That(FilesInTarget(), Is.Empty);
    }

    [Test]
    public void TheBuiltInHashesCoverTheFourFiles()
    {
        Assert.That(DatasetDownloader.ExpectedSha256.Keys, Is.EquivalentTo(FashionMnist.FileNames));
        Assert.That(DatasetDownloader.ExpectedSha256.Values, Has.All.Match("^[0-9a-f]{64}$"));
        Assert.That(DatasetDownloader.DefaultBaseUri.AbsoluteUri, Does.EndWith("/tf-keras-datasets/"));
    }

    private static byte[] GzipFastest(byte[] content)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.NoCompression, leaveOpen: true))
        {
            gzip.Write(content);
        }

        return output.ToArray();
    }
}
