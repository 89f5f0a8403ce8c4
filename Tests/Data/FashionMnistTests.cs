using FashionGpu.Training.Data;
using NUnit.Framework;

namespace FashionGpu.Tests.Data;

[TestFixture]
public sealed class FashionMnistTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    /// <summary>Writes a tiny complete dataset: 3 training and 2 test images, some files raw, some gzip.</summary>
    internal static void WriteTinyDataset(string directory)
    {
        File.WriteAllBytes(Path.Combine(directory, "train-images-idx3-ubyte.gz"), IdxTestFiles.Gzip(IdxTestFiles.Images(3)));
        File.WriteAllBytes(Path.Combine(directory, "train-labels-idx1-ubyte"), IdxTestFiles.Labels([4, 0, 9]));
        File.WriteAllBytes(Path.Combine(directory, "t10k-images-idx3-ubyte"), IdxTestFiles.Images(2));
        File.WriteAllBytes(Path.Combine(directory, "t10k-labels-idx1-ubyte.gz"), IdxTestFiles.Gzip(IdxTestFiles.Labels([7, 1])));
    }

    [Test]
    public void LoadsTrainAndTestFromGzipAndRawFiles()
    {
        WriteTinyDataset(_dir.Path);

        var (train, test) = FashionMnist.Load(_dir.Path);

        Assert.That((train.Count, train.Rows, train.Cols), Is.EqualTo((3, 28, 28)));
        Assert.That(train.Labels, Is.EqualTo(new byte[] { 4, 0, 9 }));
        Assert.That(train.Pixels, Is.EqualTo(IdxTestFiles.ExpectedPixels(3)));
        Assert.That(test.Count, Is.EqualTo(2));
        Assert.That(test.Labels, Is.EqualTo(new byte[] { 7, 1 }));
    }

    [Test]
    public void PrefersTheGzipFileWhenBothExist()
    {
        WriteTinyDataset(_dir.Path);
        // A raw train-images file with a different count: if it were read, counts would disagree.
        _dir.Write("train-images-idx3-ubyte", IdxTestFiles.Images(5));

        Assert.That(FashionMnist.FindFile(_dir.Path, FashionMnist.TrainImagesFile), Does.EndWith(".gz"));
        Assert.That(FashionMnist.Load(_dir.Path).Train.Count, Is.EqualTo(3));
    }

    [Test]
    public void RejectsImageAndLabelCountsThatDisagree()
    {
        WriteTinyDataset(_dir.Path);
        var labels = _dir.Write("train-labels-idx1-ubyte", IdxTestFiles.Labels([1, 2]));
        var images = _dir.File("train-images-idx3-ubyte.gz");

        var ex = Assert.Throws<DataFileException>(() => FashionMnist.Load(_dir.Path))!;

        Assert.That(ex.Message, Does.Contain(images).And.Contain(labels));
        Assert.That(ex.Message, Does.Contain("3 images").And.Contain("2 labels"));
    }

    [Test]
    public void NamesTheMissingFiles()
    {
        WriteTinyDataset(_dir.Path);
        File.Delete(_dir.File("t10k-images-idx3-ubyte"));

        var ex = Assert.Throws<DataFileException>(() => FashionMnist.Load(_dir.Path))!;

        Assert.That(ex.Message, Does.Contain(_dir.Path).And.Contain("missing t10k-images-idx3-ubyte"));
        Assert.That(ex.Message, Does.Not.Contain("train-images"));
    }

    [Test]
    public void RejectsAMissingDirectory()
    {
        var path = _dir.File("absent");

        IdxReaderTests.AssertFails(() => FashionMnist.Load(path), path, "not found");
    }

    [Test]
    public void ReportsABadFileWithItsPath()
    {
        WriteTinyDataset(_dir.Path);
        var bad = _dir.Write("t10k-labels-idx1-ubyte.gz", IdxTestFiles.Gzip(IdxTestFiles.Labels([7, 10])));

        IdxReaderTests.AssertFails(() => FashionMnist.Load(_dir.Path), bad, "label 10 at index 1");
    }

    [Test]
    public void HasTenClassNames()
    {
        Assert.That(FashionMnist.ClassNames, Has.Length.EqualTo(10));
        Assert.That(FashionMnist.ClassNames[0], Is.EqualTo("T-shirt/top"));
        Assert.That(FashionMnist.ClassNames[9], Is.EqualTo("Ankle boot"));
    }
}

[TestFixture]
public sealed class ImageSetTests
{
    private static ImageSet Sample(int count) =>
        new(IdxTestFiles.ExpectedPixels(count, 2, 3), Enumerable.Range(0, count).Select(i => (byte)(i % 10)).ToArray(), 2, 3);

    [Test]
    public void TakeReturnsTheFirstSamples()
    {
        var set = Sample(5);

        var first = set.Take(2);

        Assert.That(first.Count, Is.EqualTo(2));
        Assert.That(first.Labels, Is.EqualTo(new byte[] { 0, 1 }));
        Assert.That(first.Pixels, Is.EqualTo(set.Pixels[..12]));
        Assert.That(set.Take(99).Count, Is.EqualTo(5));
    }

    [Test]
    public void SliceCopiesTheRightSamples()
    {
        var set = Sample(5);

        var middle = set.Slice(1, 3);

        Assert.That((middle.Count, middle.Rows, middle.Cols), Is.EqualTo((3, 2, 3)));
        Assert.That(middle.Labels, Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(middle.Pixels, Is.EqualTo(set.Pixels[6..24]));
        Assert.That(middle.Image(0).ToArray(), Is.EqualTo(set.Image(1).ToArray()));

        middle.Pixels[0] ^= 0xff;
        Assert.That(set.Pixels[6], Is.Not.EqualTo(middle.Pixels[0]), "a slice is a copy");
    }

    [Test]
    public void SliceOutOfRangeThrows()
    {
        var set = Sample(5);

        Assert.Throws<ArgumentOutOfRangeException>(() => set.Slice(3, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => set.Slice(-1, 1));
    }

    [Test]
    public void RejectsPixelsThatDoNotMatchTheCount()
    {
        Assert.Throws<ArgumentException>(() => new ImageSet(new byte[7], new byte[1], 2, 3));
    }
}
