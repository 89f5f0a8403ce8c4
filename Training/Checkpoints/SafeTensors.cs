using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace FashionGpu.Training.Checkpoints;

/// <summary>
/// Reads and writes checkpoints in the safetensors format (https://github.com/huggingface/safetensors),
/// so weights saved here load in PyTorch (<c>safetensors.torch.load_file</c>) and back.
/// Layout: an 8-byte little-endian header length N; N bytes of UTF-8 JSON mapping each tensor
/// name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data
/// section) plus an optional "__metadata__" object of strings; then the raw little-endian data.
/// This project writes F32 only; it reads F32 and converts F64, F16, BF16, I64 and I32 to float32
/// on reading (PyTorch saves batch norm's num_batches_tracked as I64, and half-precision weights as F16/BF16).
/// </summary>
public static class SafeTensors
{
    /// <summary>The same limit as the reference implementation: a larger header means a corrupt or hostile file.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public const string MetadataKey = "__metadata__";
    public const string F32 = "F32";

    /// <summary>The dtypes read, with their sizes in bytes; every one becomes float32.</summary>
    private static readonly Dictionary<string, int> ReadableTypes = new(StringComparer.Ordinal)
    {
        [F32] = 4, ["F64"] = 8, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4,
    };

    private const int Alignment = 8;

    /// <summary>
    /// Writes <paramref name="tensors"/> (in the order given, data contiguous) with
    /// <paramref name="metadata"/>, through <see cref="OutputFile"/>: a crash mid-write never
    /// leaves a half-written checkpoint under the real name.
    /// </summary>
    /// <exception cref="ArgumentException">Two tensors share a name, or a name is reserved.</exception>
    /// <exception cref="OutputFileException">The file cannot be written.</exception>
    public static void Write(string path, IReadOnlyList<Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(metadata);
        var header = BuildHeader(tensors, metadata);

        OutputFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var tensor in tensors) WriteLittleEndian(stream, tensor.Data);
        });
    }

    /// <summary>
    /// Reads a checkpoint, validating the whole header against the file's size before
    /// allocating any tensor, so a corrupt file fails with a clear message instead of an
    /// out-of-memory error or garbage weights.
    /// </summary>
    /// <returns>The tensors in the order of their data in the file, and the metadata.</returns>
    /// <exception cref="CheckpointFileException">The file is missing, unreadable or not a valid F32 safetensors file.</exception>
    public static (IReadOnlyList<Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(string path)
    {
        if (Directory.Exists(path))
        {
            throw CheckpointFileException.For(path, "is a directory, expected a checkpoint file");
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
            return ReadFrom(stream, path);
        }
        catch (Exception ex) when (FileProblems.Describe(ex) is { } problem)
        {
            throw CheckpointFileException.For(path, problem, ex);
        }
    }

    /// <summary>
    /// Reads a checkpoint and checks that it holds every expected tensor with the expected
    /// shape, e.g. before loading it into a model. Tensors not listed are allowed (a
    /// checkpoint may also carry optimizer state).
    /// </summary>
    /// <exception cref="CheckpointFileException">As <see cref="Read"/>, or a tensor is missing or has another shape.</exception>
    public static (IReadOnlyList<Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadExpecting(
        string path, IReadOnlyList<(string Name, int[] Shape)> expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var result = Read(path);
        var byName = result.Tensors.ToDictionary(t => t.Name);
        foreach (var (name, shape) in expected)
        {
            if (!byName.TryGetValue(name, out var tensor))
            {
                var names = byName.Keys.Take(10).ToList();
                var list = names.Count == 0 ? "none" : string.Join(", ", names) + (byName.Count > names.Count ? ", ..." : string.Empty);
                throw CheckpointFileException.For(path, $"tensor {name} is missing (the file has: {list})");
            }

            if (!tensor.Shape.AsSpan().SequenceEqual(shape))
            {
                throw CheckpointFileException.For(
                    path, $"tensor {name} has shape {Tensor.FormatShape(tensor.Shape)}, expected {Tensor.FormatShape(shape)}");
            }
        }

        return result;
    }

    private static byte[] BuildHeader(IReadOnlyList<Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var json = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            if (metadata.Count > 0)
            {
                writer.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    writer.WriteString(key, value);
                }

                writer.WriteEndObject();
            }

            long offset = 0;
            foreach (var tensor in tensors)
            {
                if (tensor.Name == MetadataKey)
                {
                    throw new ArgumentException($"{MetadataKey} is reserved and cannot name a tensor", nameof(tensors));
                }

                if (!names.Add(tensor.Name))
                {
                    throw new ArgumentException($"two tensors are named {tensor.Name}", nameof(tensors));
                }

                var end = offset + (long)tensor.Data.Length * sizeof(float);
                writer.WriteStartObject(tensor.Name);
                writer.WriteString("dtype", F32);
                writer.WriteStartArray("shape");
                foreach (var d in tensor.Shape)
                {
                    writer.WriteNumberValue(d);
                }

                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(end);
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset = end;
            }

            writer.WriteEndObject();
        }

        // Pad with spaces (valid trailing JSON whitespace, as the format allows) so the data
        // section starts 8-byte aligned and can be memory-mapped as floats.
        var padded = (json.WrittenCount + Alignment - 1) / Alignment * Alignment;
        var header = new byte[padded];
        json.WrittenSpan.CopyTo(header);
        header.AsSpan(json.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static void WriteLittleEndian(Stream stream, float[] data)
    {
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(data.AsSpan()));
            return;
        }

        Span<byte> one = stackalloc byte[sizeof(float)];
        foreach (var value in data)
        {
            BinaryPrimitives.WriteSingleLittleEndian(one, value);
            stream.Write(one);
        }
    }

    /// <summary>One tensor's header entry, validated against the data section.</summary>
    private sealed record Entry(string Name, string DType, int[] Shape, long Begin, long End);

    private static (IReadOnlyList<Tensor>, IReadOnlyDictionary<string, string>) ReadFrom(FileStream stream, string path)
    {
        var fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw CheckpointFileException.For(
                path, $"file is {fileLength} bytes, too short for the 8-byte header length; not a safetensors file");
        }

        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8))
        {
            throw CheckpointFileException.For(
                path, $"header length {headerLength} runs past the end of the file ({fileLength} bytes); truncated or not a safetensors file");
        }

        if (headerLength > MaxHeaderBytes)
        {
            throw CheckpointFileException.For(path, $"header length {headerLength} exceeds the limit of {MaxHeaderBytes} bytes");
        }

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var dataLength = fileLength - 8 - (long)headerLength;

        var (entries, metadata) = ParseHeader(header, path, dataLength);
        CheckCoverage(entries, path, dataLength);

        // The checks above bound every tensor by the file's size; only now allocate.
        var tensors = new List<Tensor>(entries.Count);
        foreach (var entry in entries)
        {
            stream.Position = 8 + (long)headerLength + entry.Begin;
            var bytes = new byte[entry.End - entry.Begin];
            stream.ReadExactly(bytes);
            tensors.Add(new Tensor(entry.Name, entry.Shape, ToFloats(entry.DType, bytes)));
        }

        return (tensors, metadata);
    }

    /// <summary>Little-endian values of <paramref name="dtype"/> as float32 (rounded to nearest).</summary>
    private static float[] ToFloats(string dtype, byte[] bytes)
    {
        int size = ReadableTypes[dtype];
        var values = new float[bytes.Length / size];
        for (int i = 0; i < values.Length; i++)
        {
            var b = bytes.AsSpan(i * size, size);
            values[i] = dtype switch
            {
                F32 => BinaryPrimitives.ReadSingleLittleEndian(b),
                "F64" => (float)BinaryPrimitives.ReadDoubleLittleEndian(b),
                "F16" => (float)BinaryPrimitives.ReadHalfLittleEndian(b),
                "BF16" => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b) << 16),
                "I64" => BinaryPrimitives.ReadInt64LittleEndian(b),
                _ => BinaryPrimitives.ReadInt32LittleEndian(b),
            };
        }
        return values;
    }

    private static (List<Entry> Entries, Dictionary<string, string> Metadata) ParseHeader(byte[] header, string path, long dataLength)
    {
        // The reference implementation requires the JSON to start at the first byte.
        if (header.Length == 0 || header[0] != (byte)'{')
        {
            throw CheckpointFileException.For(path, "header is not a JSON object (it must start with '{')");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException ex)
        {
            throw CheckpointFileException.For(path, $"header is not valid JSON: {ex.Message}", ex);
        }
        catch (DecoderFallbackException ex)
        {
            throw CheckpointFileException.For(path, "header is not valid UTF-8", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw CheckpointFileException.For(path, $"header is JSON {document.RootElement.ValueKind}, expected an object");
            }

            var entries = new List<Entry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    throw CheckpointFileException.For(path, $"header names {property.Name} twice");
                }

                if (property.Name == MetadataKey)
                {
                    ReadMetadata(property.Value, path, metadata);
                }
                else
                {
                    entries.Add(ParseEntry(property.Name, property.Value, path, dataLength));
                }
            }

            return (entries, metadata);
        }
    }

    private static void ReadMetadata(JsonElement value, string path, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw CheckpointFileException.For(path, $"{MetadataKey} is JSON {value.ValueKind}, expected an object of strings");
        }

        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw CheckpointFileException.For(path, $"metadata value for {item.Name} is JSON {item.Value.ValueKind}, expected a string");
            }

            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static Entry ParseEntry(string name, JsonElement value, string path, long dataLength)
    {
        CheckpointFileException Bad(string problem) => CheckpointFileException.For(path, $"tensor {name}: {problem}");

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Bad($"entry is JSON {value.ValueKind}, expected an object");
        }

        if (!value.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String)
        {
            throw Bad("dtype is missing or not a string");
        }

        string type = dtype.GetString()!;
        if (!ReadableTypes.TryGetValue(type, out int elementSize))
        {
            throw Bad($"dtype {type} is not supported (readable: {string.Join(", ", ReadableTypes.Keys)})");
        }

        var shape = ReadIntArray(value, "shape", Bad);
        if (shape.Any(d => d < 0))
        {
            throw Bad($"shape {Tensor.FormatShape(shape)} has a negative dimension");
        }

        var offsets = ReadLongArray(value, "data_offsets", Bad);
        if (offsets.Length != 2)
        {
            throw Bad($"data_offsets has {offsets.Length} numbers, expected 2 (begin, end)");
        }

        var (begin, end) = (offsets[0], offsets[1]);
        if (begin < 0 || end < begin)
        {
            throw Bad($"data_offsets [{begin},{end}] are not a valid range");
        }

        if (end > dataLength)
        {
            throw Bad($"data_offsets [{begin},{end}] run past the end of the {dataLength}-byte data section; file truncated?");
        }

        long bytes;
        try
        {
            bytes = checked(Tensor.ElementCount(shape) * elementSize);
        }
        catch (OverflowException)
        {
            throw Bad($"shape {Tensor.FormatShape(shape)} is absurd: its size overflows");
        }

        if (bytes != end - begin)
        {
            throw Bad($"shape {Tensor.FormatShape(shape)} needs {bytes} bytes but data_offsets [{begin},{end}] span {end - begin}");
        }

        if (bytes / elementSize > Array.MaxLength)
        {
            throw Bad($"shape {Tensor.FormatShape(shape)} has more elements than one array can hold");
        }

        return new Entry(name, type, shape, begin, end);
    }

    private static int[] ReadIntArray(JsonElement entry, string key, Func<string, Exception> bad) =>
        ReadLongArray(entry, key, bad).Select(v => v is >= int.MinValue and <= int.MaxValue
            ? (int)v
            : throw bad($"{key} value {v} does not fit in a 32-bit int")).ToArray();

    private static long[] ReadLongArray(JsonElement entry, string key, Func<string, Exception> bad)
    {
        if (!entry.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw bad($"{key} is missing or not an array");
        }

        var values = new long[array.GetArrayLength()];
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out values[i]))
            {
                throw bad($"{key} holds {item.GetRawText()}, expected an integer");
            }

            i++;
        }

        return values;
    }

    /// <summary>
    /// The format requires tensors to tile the data section exactly: no overlaps (two
    /// tensors aliasing bytes) and no holes or trailing bytes (data no tensor accounts for).
    /// Sorts <paramref name="entries"/> by offset.
    /// </summary>
    private static void CheckCoverage(List<Entry> entries, string path, long dataLength)
    {
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long covered = 0;
        Entry? previous = null;
        foreach (var entry in entries)
        {
            if (entry.Begin < covered)
            {
                throw CheckpointFileException.For(path, $"tensors {previous!.Name} and {entry.Name} overlap in the data section");
            }

            if (entry.Begin > covered)
            {
                throw CheckpointFileException.For(
                    path, $"hole in the data section: bytes {covered}..{entry.Begin} belong to no tensor");
            }

            covered = entry.End;
            previous = entry;
        }

        if (covered != dataLength)
        {
            throw CheckpointFileException.For(
                path, $"trailing data: the data section is {dataLength} bytes but the tensors cover {covered}");
        }
    }
}
