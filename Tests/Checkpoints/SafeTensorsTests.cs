using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using FashionGpu.Training;
using FashionGpu.Training.Checkpoints;
using NUnit.Framework;

namespace FashionGpu.Tests.Checkpoints;

[TestFixture]
public sealed class SafeTensorsTests
{
    private string _dir = null!;
    private string _path = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("fashiongpu-ckpt-").FullName;
        _path = Path.Combine(_dir, "model.safetensors");
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static readonly Dictionary<string, string> Metadata = new()
    {
        ["format"] = "pt",
        ["epoch"] = "3",
        ["note"] = "unicode é and \"quotes\"",
    };

    /// <summary>Tensors whose values include the awkward ones: -0, NaN with a payload, infinities, a subnormal.</summary>
    private static List<Tensor> SampleTensors()
    {
        var conv = new float[32 * 1 * 3 * 3];
        for (var i = 0; i < conv.Length; i++)
        {
            conv[i] = MathF.Sin(i) * 0.1f;
        }

        conv[0] = -0f;
        conv[1] = BitConverter.Int32BitsToSingle(0x7fc01234);
        conv[2] = float.PositiveInfinity;
        conv[3] = float.NegativeInfinity;
        conv[4] = float.Epsilon;
        return
        [
            new Tensor("conv1.weight", [32, 1, 3, 3], conv),
            new Tensor("conv1.bias", [32], Enumerable.Range(0, 32).Select(i => i * 0.5f).ToArray()),
            new Tensor("dense.weight", [10, 3], Enumerable.Range(0, 30).Select(i => -i / 7f).ToArray()),
            new Tensor("step", [], [42f]),
            new Tensor("empty", [0, 4], []),
        ];
    }

    private static int[] Bits(float[] data) => data.Select(BitConverter.SingleToInt32Bits).ToArray();

    [Test]
    public void RoundTripsNamesShapesValuesAndMetadata()
    {
        var tensors = SampleTensors();
        SafeTensors.Write(_path, tensors, Metadata);

        var (read, metadata) = SafeTensors.Read(_path);

        Assert.That(read.Select(t => t.Name), Is.EqualTo(tensors.Select(t => t.Name)));
        for (var i = 0; i < tensors.Count; i++)
        {
            Assert.That(read[i].Shape, Is.EqualTo(tensors[i].Shape), tensors[i].Name);
            Assert.That(Bits(read[i].Data), Is.EqualTo(Bits(tensors[i].Data)), $"{tensors[i].Name} is bit-exact");
        }

        Assert.That(metadata, Is.EquivalentTo(Metadata));
    }

    [Test]
    public void RoundTripsWithoutMetadata()
    {
        SafeTensors.Write(_path, [new Tensor("w", [2], [1f, 2f])], new Dictionary<string, string>());

        var (read, metadata) = SafeTensors.Read(_path);

        Assert.That(metadata, Is.Empty);
        Assert.That(read.Single().Data, Is.EqualTo(new[] { 1f, 2f }));
    }

    [Test]
    public void TheLayoutIsWhatSafetensorsExpects()
    {
        var tensors = SampleTensors();
        SafeTensors.Write(_path, tensors, Metadata);
        var bytes = File.ReadAllBytes(_path);

        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var dataStart = 8 + (long)headerLength;
        Assert.That(dataStart % 8, Is.Zero, "the data section is 8-byte aligned");
        Assert.That(dataStart, Is.LessThanOrEqualTo(bytes.Length));

        var header = bytes.AsSpan(8, (int)headerLength);
        Assert.That(header[0], Is.EqualTo((byte)'{'), "the JSON starts the header");
        var text = Encoding.UTF8.GetString(header);
        Assert.That(text.TrimEnd(' '), Does.EndWith("}"), "only spaces pad the header");

        using var json = JsonDocument.Parse(text);
        var root = json.RootElement;
        Assert.That(root.EnumerateObject().Select(p => p.Name),
            Is.EquivalentTo(tensors.Select(t => t.Name).Append("__metadata__")));
        Assert.That(root.GetProperty("__metadata__").GetProperty("epoch").GetString(), Is.EqualTo("3"));

        long expectedBegin = 0;
        foreach (var tensor in tensors)
        {
            var entry = root.GetProperty(tensor.Name);
            Assert.That(entry.EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "dtype", "shape", "data_offsets" }));
            Assert.That(entry.GetProperty("dtype").GetString(), Is.EqualTo("F32"));
            Assert.That(entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(tensor.Shape));
            var offsets = entry.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.That(offsets, Is.EqualTo(new[] { expectedBegin, expectedBegin + 4L * tensor.Data.Length }), tensor.Name);

            // The data at those offsets is the tensor, little-endian.
            for (var i = 0; i < tensor.Data.Length; i++)
            {
                var at = (int)(dataStart + offsets[0] + 4 * i);
                Assert.That(BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at)), Is.EqualTo(BitConverter.SingleToInt32Bits(tensor.Data[i])));
            }

            expectedBegin = offsets[1];
        }

        Assert.That(dataStart + expectedBegin, Is.EqualTo(bytes.Length), "the tensors cover the data section exactly");
    }

    [Test]
    public void WritingLeavesNoTemporaryFileAndReplacesAnExistingFile()
    {
        SafeTensors.Write(_path, [new Tensor("w", [1], [1f])], Metadata);
        SafeTensors.Write(_path, [new Tensor("w", [3], [7f, 8f, 9f])], new Dictionary<string, string> { ["epoch"] = "4" });

        Assert.That(Directory.GetFiles(_dir).Select(Path.GetFileName), Is.EqualTo(new[] { "model.safetensors" }));
        var (read, metadata) = SafeTensors.Read(_path);
        Assert.That(read.Single().Data, Is.EqualTo(new[] { 7f, 8f, 9f }));
        Assert.That(metadata, Is.EquivalentTo(new Dictionary<string, string> { ["epoch"] = "4" }));
    }

    [Test]
    public void AStaleTemporaryFileFromACrashIsOverwritten()
    {
        File.WriteAllText(_path + ".tmp", "left over from a crash");

        SafeTensors.Write(_path, [new Tensor("w", [1], [5f])], Metadata);

        Assert.That(File.Exists(_path + ".tmp"), Is.False);
        Assert.That(SafeTensors.Read(_path).Tensors.Single().Data, Is.EqualTo(new[] { 5f }));
    }

    [Test]
    public void WritingIntoAMissingDirectoryFailsClearly()
    {
        var path = Path.Combine(_dir, "no-such-dir", "model.safetensors");

        var ex = Assert.Throws<OutputFileException>(() => SafeTensors.Write(path, [new Tensor("w", [1], [5f])], Metadata))!;

        Assert.That(ex.Message, Does.StartWith(path + ": cannot write: ").And.Contain("does not exist"));
        Assert.That(ex.Failure, Is.EqualTo(WriteFailure.Path));
    }

    [Test]
    public void WritingRejectsDuplicateNames()
    {
        Assert.Throws<ArgumentException>(() =>
            SafeTensors.Write(_path, [new Tensor("w", [1], [1f]), new Tensor("w", [1], [2f])], Metadata));
        Assert.That(File.Exists(_path), Is.False);
    }

    [Test]
    public void ATensorMustHoldAsManyValuesAsItsShapeSays()
    {
        var ex = Assert.Throws<ArgumentException>(() => _ = new Tensor("w", [2, 3], new float[5]))!;

        Assert.That(ex.Message, Does.Contain("[2,3]").And.Contain("6"));
        Assert.Throws<ArgumentException>(() => _ = new Tensor("w", [-1], []));
    }

    // ---- Damaged files: each fails with a CheckpointFileException that names the file. ----

    private void AssertReadFails(params string[] words)
    {
        var ex = Assert.Throws<CheckpointFileException>(() => SafeTensors.Read(_path))!;
        Assert.That(ex.Message, Does.StartWith(_path + ": "), "the message names the file");
        foreach (var word in words)
        {
            Assert.That(ex.Message, Does.Contain(word));
        }

        Assert.That(ex.Message, Does.Not.Contain('\n'), "the message is one line");
    }

    /// <summary>Writes a file with the given header (padded to 8 bytes) and data section.</summary>
    private void WriteRaw(string header, int dataBytes)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var padded = (json.Length + 7) / 8 * 8;
        var bytes = new byte[8 + padded + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)padded);
        json.CopyTo(bytes, 8);
        bytes.AsSpan(8 + json.Length, padded - json.Length).Fill((byte)' ');
        File.WriteAllBytes(_path, bytes);
    }

    [Test]
    public void AHandWrittenValidFileIsRead()
    {
        // Guards the helper below: the damaged cases differ from this one in one respect each.
        WriteRaw("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12);

        var (tensors, _) = SafeTensors.Read(_path);

        Assert.That(tensors.Select(t => t.Name), Is.EqualTo(new[] { "a", "b" }));
    }

    [Test]
    public void RejectsAFileTruncatedInTheData()
    {
        SafeTensors.Write(_path, SampleTensors(), Metadata);
        var bytes = File.ReadAllBytes(_path);
        File.WriteAllBytes(_path, bytes[..^10]);

        AssertReadFails("truncated");
    }

    [Test]
    public void RejectsAHeaderLengthPastTheEndOfTheFile()
    {
        SafeTensors.Write(_path, SampleTensors(), Metadata);
        var bytes = File.ReadAllBytes(_path);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)bytes.Length);
        File.WriteAllBytes(_path, bytes);

        AssertReadFails("header length", "past the end");
    }

    [Test]
    public void RejectsAnAbsurdHeaderLength()
    {
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        File.WriteAllBytes(_path, bytes);

        AssertReadFails("header length 18446744073709551615");
    }

    [TestCase(0)]
    [TestCase(7)]
    public void RejectsAFileShorterThanEightBytes(int length)
    {
        File.WriteAllBytes(_path, new byte[length]);

        AssertReadFails($"{length} bytes", "too short");
    }

    [Test]
    public void RejectsBadJson()
    {
        WriteRaw("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]""", 4);

        AssertReadFails("not valid JSON");
    }

    [Test]
    public void RejectsAHeaderThatIsNotAnObject()
    {
        WriteRaw("[1,2,3]", 0);

        AssertReadFails("not a JSON object");
    }

    // PyTorch's num_batches_tracked is I64; half-precision state dicts are F16 or BF16.
    [TestCase("F64", new byte[] { 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0, 0, 0, 0, 0, 0, 0x04, 0xC0 }, 1.5f, -2.5f)]
    [TestCase("F16", new byte[] { 0x00, 0x3E, 0x00, 0xC1 }, 1.5f, -2.5f)]
    [TestCase("BF16", new byte[] { 0xC0, 0x3F, 0x20, 0xC0 }, 1.5f, -2.5f)]
    [TestCase("I64", new byte[] { 7, 0, 0, 0, 0, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }, 7f, -2f)]
    [TestCase("I32", new byte[] { 7, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF }, 7f, -2f)]
    public void ReadsOtherDtypesAsFloat32(string dtype, byte[] data, float first, float second)
    {
        WriteRaw($$$"""{"a":{"dtype":"{{{dtype}}}","shape":[2],"data_offsets":[0,{{{data.Length}}}]}}""", data.Length);
        var bytes = File.ReadAllBytes(_path);
        data.CopyTo(bytes, bytes.Length - data.Length);
        File.WriteAllBytes(_path, bytes);

        var (read, _) = SafeTensors.Read(_path);
        Assert.That(read.Single().Data, Is.EqualTo(new[] { first, second }));
    }

    [TestCase("U8", 2)]
    [TestCase("F8_E4M3", 2)]
    [TestCase("BOOL", 2)]
    public void RejectsOtherDtypes(string dtype, int bytes)
    {
        WriteRaw($$$"""{"a":{"dtype":"{{{dtype}}}","shape":[2],"data_offsets":[0,{{{bytes}}}]}}""", bytes);

        AssertReadFails("tensor a", $"dtype {dtype} is not supported", "F32");
    }

    [Test]
    public void AnI64TensorWhoseSizeDisagreesWithItsOffsetsIsRefused()
    {
        WriteRaw("""{"a":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}}""", 8);

        AssertReadFails("tensor a", "needs 16 bytes");
    }

    [Test]
    public void RejectsAShapeThatDisagreesWithTheOffsets()
    {
        WriteRaw("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8);

        AssertReadFails("tensor a", "shape [3] needs 12 bytes", "span 8");
    }

    [Test]
    public void RejectsAnAbsurdShape()
    {
        WriteRaw("""{"a":{"dtype":"F32","shape":[1000000,1000000,1000000],"data_offsets":[0,4]}}""", 4);

        AssertReadFails("tensor a", "shape [1000000,1000000,1000000]");
    }

    [Test]
    public void RejectsAShapeWhoseSizeOverflows()
    {
        WriteRaw("""{"a":{"dtype":"F32","shape":[2000000000,2000000000,2000000000],"data_offsets":[0,4]}}""", 4);

        AssertReadFails("tensor a", "overflows");
    }

    [Test]
    public void RejectsANegativeDimension()
    {
        WriteRaw("""{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4);

        AssertReadFails("tensor a", "negative");
    }

    [Test]
    public void RejectsOverlappingTensors()
    {
        WriteRaw("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12);

        AssertReadFails("overlap");
    }

    [Test]
    public void RejectsAHoleInTheData()
    {
        WriteRaw("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12);

        AssertReadFails("hole", "4..8");
    }

    [Test]
    public void RejectsDataThatNoTensorAccountsFor()
    {
        WriteRaw("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8);

        AssertReadFails("trailing data");
    }

    [Test]
    public void RejectsANonStringMetadataValue()
    {
        WriteRaw("""{"__metadata__":{"epoch":3},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4);

        AssertReadFails("metadata", "epoch");
    }

    [Test]
    public void RejectsAMissingFile()
    {
        AssertReadFails("not found");
    }

    [Test]
    public void ReadExpectingAcceptsMatchingTensors()
    {
        SafeTensors.Write(_path, SampleTensors(), Metadata);

        var (tensors, _) = SafeTensors.ReadExpecting(_path, [("conv1.weight", [32, 1, 3, 3]), ("conv1.bias", [32])]);

        Assert.That(tensors, Has.Count.EqualTo(SampleTensors().Count));
    }

    [Test]
    public void ReadExpectingReportsAMissingTensor()
    {
        SafeTensors.Write(_path, SampleTensors(), Metadata);

        var ex = Assert.Throws<CheckpointFileException>(() =>
            SafeTensors.ReadExpecting(_path, [("conv1.weight", [32, 1, 3, 3]), ("conv2.weight", [64, 32, 3, 3])]))!;

        Assert.That(ex.Message, Does.StartWith(_path + ": tensor conv2.weight is missing"));
    }

    [Test]
    public void ReadExpectingReportsAWrongShape()
    {
        SafeTensors.Write(_path, SampleTensors(), Metadata);

        var ex = Assert.Throws<CheckpointFileException>(() =>
            SafeTensors.ReadExpecting(_path, [("conv1.weight", [32, 1, 5, 5])]))!;

        Assert.That(ex.Message, Is.EqualTo($"{_path}: tensor conv1.weight has shape [32,1,3,3], expected [32,1,5,5]"));
    }
}
