using System.Buffers.Binary;
using System.IO.Compression;

namespace FashionGpu.Tests.Data;

/// <summary>Builds small IDX files in memory, correct or broken on purpose.</summary>
internal static class IdxTestFiles
{
    /// <summary>A recognisable pixel value for image i, row r, column c.</summary>
    public static byte Pixel(int i, int r, int c) => (byte)((i * 31 + r * 7 + c) % 256);

    public static byte[] Images(int count, int rows = 28, int cols = 28, int magic = 0x00000803, int dataDelta = 0, uint? declaredCount = null)
    {
        var data = new List<byte>();
        for (var i = 0; i < count; i++)
        {
            for (var r = 0; r < rows; r++)
            {
                for (var c = 0; c < cols; c++)
                {
                    data.Add(Pixel(i, r, c));
                }
            }
        }

        return Idx(magic, [declaredCount ?? (uint)count, (uint)rows, (uint)cols], Adjust(data, dataDelta));
    }

    public static byte[] Labels(byte[] labels, int magic = 0x00000801, int dataDelta = 0, uint? declaredCount = null) =>
        Idx(magic, [declaredCount ?? (uint)labels.Length], Adjust([.. labels], dataDelta));

    public static byte[] Gzip(byte[] content)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(content);
        }

        return output.ToArray();
    }

    /// <summary>Pixels as ImageSet would hold them, for comparison.</summary>
    public static byte[] ExpectedPixels(int count, int rows = 28, int cols = 28)
    {
        var idx = Images(count, rows, cols);
        return idx[16..];
    }

    private static byte[] Idx(int magic, uint[] dims, List<byte> data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Count];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (var d = 0; d < dims.Length; d++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        }

        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    /// <summary>Cuts (negative delta) or pads (positive delta) the data section.</summary>
    private static List<byte> Adjust(List<byte> data, int delta)
    {
        if (delta < 0)
        {
            data.RemoveRange(data.Count + delta, -delta);
        }

        for (var i = 0; i < delta; i++)
        {
            data.Add(0x55);
        }

        return data;
    }
}

/// <summary>A fresh directory under the system temp directory, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = Directory.CreateTempSubdirectory("fashiongpu-test-").FullName;
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, byte[] content)
    {
        var path = File(name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllBytes(path, content);
        return path;
    }

    public string SubDir(string name) => Directory.CreateDirectory(File(name)).FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory must not fail the test that made it.
        }
    }
}
