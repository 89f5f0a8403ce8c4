using System.Buffers.Binary;
using System.IO.Compression;

namespace FashionGpu.Training.Data;

/// <summary>
/// Reads IDX files (the format of MNIST and Fashion-MNIST), gzip-compressed or raw.
/// Header: a big-endian magic 0x0000TTDD (TT = 0x08 for unsigned bytes, DD = number of
/// dimensions), then DD big-endian int32 sizes, then the data.
/// </summary>
/// <remarks>
/// Every size in the header is checked against what the file can hold before anything large
/// is allocated, so a corrupt header yields a clear error instead of an attempt to allocate
/// gigabytes.
/// </remarks>
public static class IdxReader
{
    public const int ImagesMagic = 0x00000803;
    public const int LabelsMagic = 0x00000801;

    /// <summary>More samples than any dataset this project reads; a larger count means a corrupt header.</summary>
    public const int MaxCount = 10_000_000;

    public const int LabelClasses = 10;

    private const byte UnsignedByteType = 0x08;

    /// <summary>
    /// Reads an IDX3 image file: magic 0x00000803, count, rows, cols, then count*rows*cols bytes.
    /// </summary>
    /// <exception cref="DataFileException">The file is missing, unreadable or not such a file.</exception>
    public static (byte[] Pixels, int Count, int Rows, int Cols) ReadImages(
        string path, int expectedRows = 28, int expectedCols = 28)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(expectedRows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(expectedCols);
        return WithStream(path, (stream, rawLength) =>
        {
            var dims = ReadHeader(stream, path, ImagesMagic);
            var (count, rows, cols) = (dims[0], dims[1], dims[2]);
            if (rows != expectedRows || cols != expectedCols)
            {
                throw DataFileException.For(path, $"image dimensions are {rows}x{cols}, expected {expectedRows}x{expectedCols}");
            }

            CheckCount(path, count);
            var what = $"{count} images of {rows}x{cols}";
            var pixels = ReadData(stream, path, rawLength, HeaderBytes(3), (long)count * rows * cols, what);
            return (pixels, (int)count, (int)rows, (int)cols);
        });
    }

    /// <summary>
    /// Reads an IDX1 label file: magic 0x00000801, count, then count bytes, each 0..9.
    /// </summary>
    /// <exception cref="DataFileException">The file is missing, unreadable or not such a file.</exception>
    public static byte[] ReadLabels(string path)
    {
        return WithStream(path, (stream, rawLength) =>
        {
            var dims = ReadHeader(stream, path, LabelsMagic);
            var count = dims[0];
            CheckCount(path, count);
            var labels = ReadData(stream, path, rawLength, HeaderBytes(1), count, $"{count} labels");
            for (var i = 0; i < labels.Length; i++)
            {
                if (labels[i] >= LabelClasses)
                {
                    throw DataFileException.For(path, $"label {labels[i]} at index {i} is outside 0..{LabelClasses - 1}");
                }
            }

            return labels;
        });
    }

    /// <summary>
    /// Opens a file for reading, turning the ways that can fail into one-line errors.
    /// </summary>
    internal static FileStream OpenForReading(string path)
    {
        // Opening a directory fails with an "access denied" error on Linux, which would
        // send the user looking at permissions; say what is actually wrong.
        if (Directory.Exists(path))
        {
            throw DataFileException.For(path, "is a directory, expected a file");
        }

        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }
        catch (Exception ex) when (FileProblems.Describe(ex) is { } problem)
        {
            throw DataFileException.For(path, problem, ex);
        }
    }

    /// <summary>True when the stream starts with the gzip magic bytes 1f 8b; leaves the position at 0.</summary>
    internal static bool StartsWithGzipMagic(Stream seekable)
    {
        Span<byte> magic = stackalloc byte[2];
        var n = seekable.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        seekable.Position = 0;
        return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    /// <summary>
    /// Runs <paramref name="body"/> on the decompressed content of the file. The second
    /// argument is the file's length when it is raw (so sizes can be checked up front) and
    /// null when it is gzip (the decompressed size is only known by reading).
    /// </summary>
    private static T WithStream<T>(string path, Func<Stream, long?, T> body)
    {
        using var file = OpenForReading(path);
        var gzip = false;
        try
        {
            if (file.Length == 0)
            {
                throw DataFileException.For(path, "file is empty");
            }

            gzip = StartsWithGzipMagic(file);
            if (!gzip)
            {
                return body(file, file.Length);
            }

            using var decompressed = new GZipStream(file, CompressionMode.Decompress, leaveOpen: true);
            return body(decompressed, null);
        }
        catch (InvalidDataException ex) when (gzip)
        {
            throw DataFileException.For(path, $"corrupt gzip stream: {ex.Message}", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw DataFileException.For(path, "permission denied while reading", ex);
        }
        catch (IOException ex)
        {
            throw DataFileException.For(path, $"read error: {ex.Message}", ex);
        }
    }

    private static int HeaderBytes(int dimensions) => 4 + 4 * dimensions;

    /// <summary>Reads and checks the magic, then returns the dimension sizes (unsigned, so a corrupt value cannot look negative).</summary>
    private static uint[] ReadHeader(Stream stream, string path, int expectedMagic)
    {
        var dimensions = expectedMagic & 0xff;
        Span<byte> header = stackalloc byte[HeaderBytes(dimensions)];

        ReadHeaderPart(stream, path, header[..4], 0, header.Length);
        var magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != expectedMagic)
        {
            var kind = expectedMagic == ImagesMagic ? "an IDX image file" : "an IDX label file";
            var typeMatches = header[0] == 0 && header[1] == 0 && header[2] == UnsignedByteType;
            var problem = typeMatches
                ? $"magic number 0x{magic:x8} declares {header[3]} dimensions, expected {dimensions} (magic 0x{expectedMagic:x8}); not {kind}"
                : $"wrong magic number 0x{magic:x8}, expected 0x{expectedMagic:x8}; not {kind}";
            throw DataFileException.For(path, problem);
        }

        ReadHeaderPart(stream, path, header[4..], 4, header.Length);
        var sizes = new uint[dimensions];
        for (var d = 0; d < dimensions; d++)
        {
            sizes[d] = BinaryPrimitives.ReadUInt32BigEndian(header[(4 + 4 * d)..]);
        }

        return sizes;
    }

    private static void ReadHeaderPart(Stream stream, string path, Span<byte> part, int offset, int headerLength)
    {
        var got = stream.ReadAtLeast(part, part.Length, throwOnEndOfStream: false);
        if (got < part.Length)
        {
            throw DataFileException.For(
                path, $"truncated: the file ends inside the {headerLength}-byte IDX header (after {offset + got} bytes)");
        }
    }

    private static void CheckCount(string path, uint count)
    {
        if (count > MaxCount)
        {
            throw DataFileException.For(path, $"declared count {count} exceeds the limit of {MaxCount}; corrupt header?");
        }
    }

    /// <summary>
    /// Reads exactly <paramref name="expected"/> bytes of data and checks that nothing follows.
    /// </summary>
    private static byte[] ReadData(Stream stream, string path, long? rawLength, int headerBytes, long expected, string what)
    {
        if (rawLength is long length)
        {
            // Raw file: its length says exactly how much data there is, before allocating.
            var actual = length - headerBytes;
            if (actual != expected)
            {
                var problem = actual < expected ? "truncated" : "trailing data";
                throw DataFileException.For(path, $"{problem}: data is {actual} bytes, expected {expected} for {what}");
            }
        }

        if (expected > Array.MaxLength)
        {
            throw DataFileException.For(path, $"declared {what} = {expected} bytes, more than one array can hold; corrupt header?");
        }

        if (rawLength is not null)
        {
            var data = new byte[expected];
            stream.ReadExactly(data);
            return data;
        }

        // Gzip: the decompressed size is unknown until read, so grow the buffer only as data
        // actually arrives; a header that promises more than the stream holds fails at the
        // end of the stream, not at allocation.
        var buffer = new byte[Math.Min(expected, 1 << 20)];
        long got = 0;
        while (got < expected)
        {
            if (got == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(expected, (long)buffer.Length * 2));
            }

            var n = stream.Read(buffer, (int)got, buffer.Length - (int)got);
            if (n == 0)
            {
                throw DataFileException.For(path, $"truncated: decompressed data is {got} bytes, expected {expected} for {what}");
            }

            got += n;
        }

        var extra = CountRemaining(stream, limit: 64L << 20);
        if (extra > 0)
        {
            var atLeast = extra >= 64L << 20 ? "at least " : string.Empty;
            throw DataFileException.For(
                path, $"trailing data: decompressed data is {atLeast}{expected + extra} bytes, expected {expected} for {what}");
        }

        return buffer;
    }

    /// <summary>Counts the bytes left in the stream, stopping at <paramref name="limit"/> (a gzip bomb should not run forever).</summary>
    private static long CountRemaining(Stream stream, long limit)
    {
        var scratch = new byte[1 << 16];
        long total = 0;
        int n;
        while (total < limit && (n = stream.Read(scratch, 0, scratch.Length)) > 0)
        {
            total += n;
        }

        return total;
    }
}
