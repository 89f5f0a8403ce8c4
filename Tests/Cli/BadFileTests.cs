using System.Text;
using NUnit.Framework;
using static FashionGpu.Tests.Cli.CliRunner;

namespace FashionGpu.Tests.Cli;

/// <summary>Untrusted files through the CLI: one line naming the file and the problem, exit code 2.</summary>
public sealed class BadFileTests
{
    private static string Checkpoint(string dir, string json, int dataBytes, long? declaredLength = null)
    {
        string path = Path.Combine(dir, "model.safetensors");
        var header = Encoding.UTF8.GetBytes(json);
        using var f = File.Create(path);
        f.Write(BitConverter.GetBytes(declaredLength ?? header.Length));
        f.Write(header);
        f.Write(new byte[dataBytes]);
        return path;
    }

    [Test]
    public void ACheckpointThatIsTruncatedIsRejected()
    {
        string path = Checkpoint(TempDir(), "{\"conv1.bias\":{\"dtype\":\"F32\",\"shape\":[32],\"data_offsets\":[0,128]}}", 64);
        AssertUsageError(Run("evaluate", "--model", path), path);
    }

    [Test]
    public void AHeaderLengthPastTheEndIsRejected()
    {
        string path = Checkpoint(TempDir(), "{}", 0, declaredLength: 1L << 40);
        AssertUsageError(Run("evaluate", "--model", path), path);
    }

    [Test]
    public void BadJsonIsRejected()
    {
        string path = Checkpoint(TempDir(), "{\"conv1.bias\": [", 0);
        AssertUsageError(Run("evaluate", "--model", path), path);
    }

    [Test]
    public void AWrongDtypeIsRejected()
    {
        string path = Checkpoint(TempDir(), "{\"conv1.bias\":{\"dtype\":\"U8\",\"shape\":[32],\"data_offsets\":[0,32]}}", 32);
        AssertUsageError(Run("evaluate", "--model", path), path, "dtype U8 is not supported");
    }

    [Test]
    public void AnAbsurdShapeIsRejectedBeforeAllocating()
    {
        string path = Checkpoint(TempDir(), "{\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[2000000000,2000000000],\"data_offsets\":[0,16]}}", 16);
        AssertUsageError(Run("evaluate", "--model", path), path);
    }

    [Test]
    public void AMissingTensorIsNamed()
    {
        string path = Checkpoint(TempDir(), "{\"conv1.bias\":{\"dtype\":\"F32\",\"shape\":[32],\"data_offsets\":[0,128]}}", 128);
        AssertUsageError(Run("evaluate", "--model", path), path, "conv1.weight is missing");
    }

    [Test]
    public void AMissingModelFileOrADirectoryIsNamed()
    {
        string dir = TempDir();
        AssertUsageError(Run("evaluate", "--model", Path.Combine(dir, "nope.safetensors")), "nope.safetensors does not exist");
        AssertUsageError(Run("evaluate", "--model", dir), "is a directory");
    }

    [Test]
    public void DataWithAMissingFileNamesTheDirectoryAndTheFile()
    {
        string dir = TempDir();
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), []);
        AssertUsageError(Run("train", "--data", dir, "--out", Path.Combine(TempDir(), "o")), dir);
    }

    [Test]
    public void ACorruptIdxFileIsNamed()
    {
        string dir = TempDir();
        foreach (var name in new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" })
            File.WriteAllBytes(Path.Combine(dir, name + ".gz"), [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]);
        string outDir = Path.Combine(TempDir(), "o");
        var r = Run("train", "--data", dir, "--out", outDir);
        AssertUsageError(r, "-ubyte.gz");
        Assert.That(Directory.Exists(outDir), Is.False, "a run refused for its data leaves no output directory behind");
    }
}
