using FashionGpu.Training.Data;
using NUnit.Framework;

namespace FashionGpu.Tests.Data;

[TestFixture]
public sealed class IdxReaderTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [TestCase(false, "train-images-idx3-ubyte")]
    [TestCase(true, "train-images-idx3-ubyte.gz")]
    [TestCase(true, "images-without-gz-extension")] // gzip is recognised by its magic bytes
    [TestCase(false, "raw-but-named.gz")]
    public void ReadsImages(bool gzip, string name)
    {
        var idx = IdxTestFiles.Images(3);
        var path = _dir.Write(name, gzip ? IdxTestFiles.Gzip(idx) : idx);

        var images = IdxReader.ReadImages(path);

        Assert.That(images.Count, Is.EqualTo(3));
        Assert.That(images.Rows, Is.EqualTo(28));
        Assert.That(images.Cols, Is.EqualTo(28));
        Assert.That(images.Pixels, Is.EqualTo(IdxTestFiles.ExpectedPixels(3)));
        Assert.That(images.Pixels[(2 * 28 + 5) * 28 + 9], Is.EqualTo(IdxTestFiles.Pixel(2, 5, 9)));
    }

    [Test]
    public void ReadsImagesOfOtherDimensionsWhenAsked()
    {
        var path = _dir.Write("small", IdxTestFiles.Images(2, rows: 4, cols: 5));

        var images = IdxReader.ReadImages(path, expectedRows: 4, expectedCols: 5);

        Assert.That((images.Count, images.Rows, images.Cols), Is.EqualTo((2, 4, 5)));
        Assert.That(images.Pixels, Is.EqualTo(IdxTestFiles.ExpectedPixels(2, 4, 5)));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void ReadsLabels(bool gzip)
    {
        byte[] labels = [0, 9, 3, 3, 7];
        var idx = IdxTestFiles.Labels(labels);
        var path = _dir.Write("labels", gzip ? IdxTestFiles.Gzip(idx) : idx);

        Assert.That(IdxReader.ReadLabels(path), Is.EqualTo(labels));
    }

    [Test]
    public void ReadsAnEmptyLabelSet()
    {
        var path = _dir.Write("labels", IdxTestFiles.Labels([]));

        Assert.That(IdxReader.ReadLabels(path), Is.Empty);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void RejectsWrongMagic(bool gzip)
    {
        var idx = IdxTestFiles.Images(3, magic: 0x12345678);
        var path = _dir.Write("images", gzip ? IdxTestFiles.Gzip(idx) : idx);

        AssertFails(() => IdxReader.ReadImages(path), path, "magic number 0x12345678", "0x00000803");
    }

    [Test]
    public void RejectsALabelFileReadAsImages()
    {
        var path = _dir.Write("labels", IdxTestFiles.Labels([1, 2, 3]));

        AssertFails(() => IdxReader.ReadImages(path), path, "1 dimensions, expected 3");
    }

    [Test]
    public void RejectsAnImageFileReadAsLabels()
    {
        var path = _dir.Write("images", IdxTestFiles.Images(1));

        AssertFails(() => IdxReader.ReadLabels(path), path, "3 dimensions, expected 1");
    }

    [TestCase(27, 28)]
    [TestCase(28, 32)]
    public void RejectsWrongImageDimensions(int rows, int cols)
    {
        var path = _dir.Write("images", IdxTestFiles.Images(3, rows, cols));

        AssertFails(() => IdxReader.ReadImages(path), path, $"dimensions are {rows}x{cols}, expected 28x28");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void RejectsTruncatedImageData(bool gzip)
    {
        var idx = IdxTestFiles.Images(3, dataDelta: -100);
        var path = _dir.Write("images", gzip ? IdxTestFiles.Gzip(idx) : idx);

        AssertFails(() => IdxReader.ReadImages(path), path, "truncated", $"{3 * 784 - 100} bytes", $"expected {3 * 784}");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void RejectsTrailingImageData(bool gzip)
    {
        var idx = IdxTestFiles.Images(3, dataDelta: 5);
        var path = _dir.Write("images", gzip ? IdxTestFiles.Gzip(idx) : idx);

        AssertFails(() => IdxReader.ReadImages(path), path, "trailing data", $"{3 * 784 + 5} bytes", $"expected {3 * 784}");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void RejectsTruncatedLabels(bool gzip)
    {
        var idx = IdxTestFiles.Labels([1, 2, 3], dataDelta: -1);
        var path = _dir.Write("labels", gzip ? IdxTestFiles.Gzip(idx) : idx);

        AssertFails(() => IdxReader.ReadLabels(path), path, "truncated", "expected 3");
    }

    [Test]
    public void RejectsAFileThatEndsInsideTheHeader()
    {
        var path = _dir.Write("images", IdxTestFiles.Images(3)[..10]);

        AssertFails(() => IdxReader.ReadImages(path), path, "truncated", "header");
    }

    [TestCase(false, 10)]
    [TestCase(true, 12)]
    [TestCase(false, 255)]
    public void RejectsALabelAboveNine(bool gzip, int label)
    {
        var idx = IdxTestFiles.Labels([0, (byte)label, 3]);
        var path = _dir.Write("labels", gzip ? IdxTestFiles.Gzip(idx) : idx);

        AssertFails(() => IdxReader.ReadLabels(path), path, $"label {label} at index 1 is outside 0..9");
    }

    [TestCase(false, 4_000_000_000u, "exceeds the limit")]
    [TestCase(true, 4_000_000_000u, "exceeds the limit")]
    [TestCase(false, 2_000_000u, "truncated")]
    [TestCase(true, 2_000_000u, "truncated")]
    [TestCase(true, 9_000_000u, "more than one array can hold")]
    public void RejectsAnAbsurdDeclaredCountWithoutAllocatingIt(bool gzip, uint declared, string word)
    {
        var idx = IdxTestFiles.Images(2, declaredCount: declared);
        var path = _dir.Write("images", gzip ? IdxTestFiles.Gzip(idx) : idx);
        var before = GC.GetTotalAllocatedBytes(precise: true);

        AssertFails(() => IdxReader.ReadImages(path), path, word, declared.ToString());

        // 2 million images would be 1.5 GB; the reader must fail long before that.
        Assert.That(GC.GetTotalAllocatedBytes(precise: true) - before, Is.LessThan(64L << 20));
    }

    [Test]
    public void RejectsACorruptGzipStream()
    {
        // A gzip header followed by a deflate block of reserved type 11: never valid.
        byte[] corrupt = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        var path = _dir.Write("images.gz", corrupt);

        AssertFails(() => IdxReader.ReadImages(path), path, "corrupt gzip");
    }

    [Test]
    public void RejectsAGzipStreamWithABadChecksum()
    {
        var gz = IdxTestFiles.Gzip(IdxTestFiles.Labels([1, 2, 3]));
        gz[^8] ^= 0xff; // the CRC-32 of the content, in the gzip trailer
        var path = _dir.Write("labels.gz", gz);

        AssertFails(() => IdxReader.ReadLabels(path), path, "gzip");
    }

    [Test]
    public void RejectsAnEmptyFile()
    {
        var path = _dir.Write("images", []);

        AssertFails(() => IdxReader.ReadImages(path), path, "empty");
    }

    [Test]
    public void RejectsADirectoryWhereAFileShouldBe()
    {
        var path = _dir.SubDir("train-images-idx3-ubyte.gz");

        AssertFails(() => IdxReader.ReadImages(path), path, "is a directory");
    }

    [Test]
    public void RejectsAMissingFile()
    {
        var path = _dir.File("nothing-here");

        AssertFails(() => IdxReader.ReadLabels(path), path, "not found");
    }

    [Test]
    public void RejectsAFileInAMissingDirectory()
    {
        var path = _dir.File("no-such-dir/labels");

        AssertFails(() => IdxReader.ReadLabels(path), path, "not found");
    }

    [Test]
    public void RejectsAFileWithoutReadPermission()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("Unix permissions do not apply on Windows.");
            return;
        }

        var path = _dir.Write("labels", IdxTestFiles.Labels([1, 2, 3]));
        File.SetUnixFileMode(path, UnixFileMode.None);
        if (CanOpen(path))
        {
            // Root (and any user with CAP_DAC_OVERRIDE) reads files whatever their mode.
            Assert.Ignore("running with permission to read a mode-000 file (root?), so a permission error cannot be provoked");
        }

        AssertFails(() => IdxReader.ReadLabels(path), path, "permission denied");
    }

    [Test]
    public void ErrorMessagesAreOneLine()
    {
        var gz = IdxTestFiles.Gzip(IdxTestFiles.Labels([1, 2, 3]));
        gz[^8] ^= 0xff;
        var path = _dir.Write("labels.gz", gz);

        var ex = Assert.Throws<DataFileException>(() => IdxReader.ReadLabels(path))!;

        Assert.That(ex.Message, Does.Not.Contain('\n').And.Not.Contain('\r'));
        Assert.That(ex.Message, Does.StartWith(path + ": "));
    }

    internal static void AssertFails(Action action, string path, params string[] words)
    {
        var ex = Assert.Throws<DataFileException>(action)!;
        Assert.That(ex.Message, Does.Contain(path), "the message names the file");
        foreach (var word in words)
        {
            Assert.That(ex.Message, Does.Contain(word));
        }

        Assert.That(ex.Message, Does.Not.Contain('\n'), "the message is one line");
    }

    private static bool CanOpen(string path)
    {
        try
        {
            File.OpenRead(path).Dispose();
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
