using FashionGpu.Training.Data;
using NUnit.Framework;

namespace FashionGpu.Tests.Data;

/// <summary>Checks against the real dataset, as installed by the Debian package dataset-fashion-mnist.</summary>
[TestFixture]
public sealed class RealDatasetTests
{
    private static string RequireRealDataset()
    {
        var directory = DatasetLocator.SystemDirectory;
        if (FashionMnist.MissingFiles(directory).Count == 0)
        {
            return directory;
        }

        // CI installs the package, so there a missing dataset is a broken setup, not a skip.
        var reason = $"{directory} does not hold Fashion-MNIST (install the package dataset-fashion-mnist)";
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            Assert.Fail(reason + "; CI is set, and CI must install it");
        }

        Assert.Ignore(reason);
        return directory;
    }

    [Test]
    public void LoadsTheRealDataset()
    {
        var directory = RequireRealDataset();

        var (train, test) = FashionMnist.Load(directory);

        Assert.That((train.Count, train.Rows, train.Cols), Is.EqualTo((60000, 28, 28)));
        Assert.That((test.Count, test.Rows, test.Cols), Is.EqualTo((10000, 28, 28)));
        Assert.That(train.Labels.Concat(test.Labels), Has.All.InRange(0, 9));
        var trainPerClass = train.Labels.CountBy(l => l).OrderBy(p => p.Key).Select(p => p.Value);
        Assert.That(trainPerClass, Is.EqualTo(Enumerable.Repeat(6000, 10)));
        var testPerClass = test.Labels.CountBy(l => l).OrderBy(p => p.Key).Select(p => p.Value);
        Assert.That(testPerClass, Is.EqualTo(Enumerable.Repeat(1000, 10)));
        Assert.That(train.Pixels.Max(), Is.EqualTo(255), "pixels span the byte range");
    }

    [Test]
    public void TheBuiltInHashesMatchTheRealFiles()
    {
        var directory = RequireRealDataset();

        foreach (var name in FashionMnist.FileNames)
        {
            var path = FashionMnist.FindFile(directory, name)!;
            var sha256 = path.EndsWith(".gz", StringComparison.Ordinal)
                ? DatasetDownloader.DecompressedSha256(path)
                : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
            Assert.That(sha256, Is.EqualTo(DatasetDownloader.ExpectedSha256[name]), name);
        }
    }
}
