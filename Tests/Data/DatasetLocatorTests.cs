using FashionGpu.Training.Data;
using NUnit.Framework;

namespace FashionGpu.Tests.Data;

[TestFixture]
public sealed class DatasetLocatorTests
{
    private TempDir _dir = null!;
    private string _envDir = null!;
    private string _home = null!;
    private string _kerasDir = null!;
    private string _systemDir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir();
        _envDir = _dir.File("from-env");
        _home = _dir.File("home");
        _kerasDir = Path.Combine(_home, ".keras", "datasets", "fashion-mnist");
        _systemDir = _dir.File("usr-share");
    }

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private LocatorEnvironment Env(string? variable) =>
        new(name => name == "FASHION_MNIST_DIR" ? variable : null, _home, _systemDir);

    private static void MakeDataset(string directory)
    {
        Directory.CreateDirectory(directory);
        FashionMnistTests.WriteTinyDataset(directory);
    }

    [Test]
    public void CandidatesFollowTheSearchOrder()
    {
        var candidates = DatasetLocator.Candidates(null, Env(_envDir));

        Assert.That(candidates.Select(c => c.Directory), Is.EqualTo(new[] { _envDir, _kerasDir, _systemDir }));
        Assert.That(candidates.Select(c => c.Source), Is.EqualTo(new[]
        {
            DatasetLocator.EnvironmentVariable, DatasetLocator.KerasCacheSource, DatasetLocator.SystemSource,
        }));
    }

    [TestCase(null)]
    [TestCase("")]
    public void AnUnsetOrEmptyVariableIsSkipped(string? variable)
    {
        var candidates = DatasetLocator.Candidates(null, Env(variable));

        Assert.That(candidates.Select(c => c.Directory), Is.EqualTo(new[] { _kerasDir, _systemDir }));
    }

    [Test]
    public void WithoutAHomeDirectoryTheKerasCacheIsSkipped()
    {
        var env = new LocatorEnvironment(_ => null, null, _systemDir);

        Assert.That(DatasetLocator.Candidates(null, env).Select(c => c.Directory), Is.EqualTo(new[] { _systemDir }));
    }

    [Test]
    public void TheDataFlagIsTheOnlyCandidate()
    {
        var candidates = DatasetLocator.Candidates("/somewhere", Env(_envDir));

        Assert.That(candidates, Is.EqualTo(new[] { new DatasetCandidate("/somewhere", "--data") }));
    }

    [Test]
    public void TheVariableWinsOverTheCacheAndTheSystemDirectory()
    {
        MakeDataset(_envDir);
        MakeDataset(_kerasDir);
        MakeDataset(_systemDir);

        Assert.That(DatasetLocator.Locate(null, Env(_envDir)).Directory, Is.EqualTo(_envDir));
    }

    [Test]
    public void AnIncompleteDirectoryIsPassedOver()
    {
        MakeDataset(_envDir);
        File.Delete(Path.Combine(_envDir, "train-labels-idx1-ubyte"));
        MakeDataset(_kerasDir);
        MakeDataset(_systemDir);

        var found = DatasetLocator.Locate(null, Env(_envDir));

        Assert.That(found, Is.EqualTo(new DatasetCandidate(_kerasDir, DatasetLocator.KerasCacheSource)));
    }

    [Test]
    public void TheSystemDirectoryIsTheLastResort()
    {
        MakeDataset(_systemDir);

        Assert.That(DatasetLocator.Locate(null, Env(_envDir)).Directory, Is.EqualTo(_systemDir));
    }

    [Test]
    public void TheDataFlagIsUsedEvenWhenOthersHoldTheData()
    {
        var flagged = _dir.File("flagged");
        MakeDataset(flagged);
        MakeDataset(_envDir);

        Assert.That(DatasetLocator.Locate(flagged, Env(_envDir)), Is.EqualTo(new DatasetCandidate(flagged, "--data")));
    }

    [Test]
    public void ADataFlagWithoutTheFilesFailsWithoutFallingBack()
    {
        var flagged = _dir.SubDir("flagged");
        File.WriteAllBytes(Path.Combine(flagged, "train-images-idx3-ubyte"), IdxTestFiles.Images(1));
        MakeDataset(_systemDir);

        var ex = Assert.Throws<DataFileException>(() => DatasetLocator.Locate(flagged, Env(null)))!;

        Assert.That(ex.Message, Does.Contain(flagged).And.Contain("--data"));
        Assert.That(ex.Message, Does.Contain("train-labels-idx1-ubyte").And.Contain("t10k-images-idx3-ubyte").And.Contain("t10k-labels-idx1-ubyte"));
        Assert.That(ex.Message, Does.Not.Contain("train-images-idx3-ubyte"), "only the missing files are named");
    }

    [Test]
    public void ANonexistentDataFlagDirectoryFails()
    {
        var flagged = _dir.File("nope");

        IdxReaderTests.AssertFails(() => DatasetLocator.Locate(flagged, Env(null)), flagged, "does not exist");
    }

    [Test]
    public void WhenNothingIsFoundTheErrorListsThePlacesAndHowToGetTheData()
    {
        Directory.CreateDirectory(_envDir);

        var ex = Assert.Throws<DataFileException>(() => DatasetLocator.Locate(null, Env(_envDir)))!;

        Assert.That(ex.Message, Does.Contain(_envDir).And.Contain(_kerasDir).And.Contain(_systemDir));
        Assert.That(ex.Message, Does.Contain("apt-get install dataset-fashion-mnist"));
        Assert.That(ex.Message, Does.Contain("fashiongpu train --download"));
        Assert.That(ex.Message, Does.Not.Contain('\n'));
    }
}
