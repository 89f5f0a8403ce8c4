namespace FashionGpu.Training.Data;

/// <summary>
/// Grey-scale images with their labels, kept as bytes exactly as in the IDX files (one byte
/// per pixel, 0..255, row-major, image after image). Conversion to float happens on the
/// device, so the host copy stays four times smaller.
/// </summary>
public sealed class ImageSet
{
    public ImageSet(byte[] pixels, byte[] labels, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        if ((long)labels.Length * rows * cols != pixels.Length)
        {
            throw new ArgumentException(
                $"pixels has {pixels.Length} bytes, expected {labels.Length} images of {rows}x{cols} = {(long)labels.Length * rows * cols}",
                nameof(pixels));
        }

        Pixels = pixels;
        Labels = labels;
        Rows = rows;
        Cols = cols;
    }

    /// <summary>Count * Rows * Cols bytes, row-major, one image after another.</summary>
    public byte[] Pixels { get; }

    /// <summary>One class index 0..9 per image.</summary>
    public byte[] Labels { get; }

    public int Count => Labels.Length;

    public int Rows { get; }

    public int Cols { get; }

    public int PixelsPerImage => Rows * Cols;

    /// <summary>The pixels of image <paramref name="index"/>, without copying.</summary>
    public ReadOnlySpan<byte> Image(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Pixels.AsSpan(index * PixelsPerImage, PixelsPerImage);
    }

    /// <summary>The first <paramref name="n"/> samples (all of them if n exceeds Count), copied.</summary>
    public ImageSet Take(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        return Slice(0, Math.Min(n, Count));
    }

    /// <summary>Samples start .. start+count-1, copied so the slice does not pin the whole set.</summary>
    public ImageSet Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if ((long)start + count > Count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"slice {start}+{count} exceeds the {Count} samples");
        }

        var pixels = Pixels.AsSpan(start * PixelsPerImage, count * PixelsPerImage).ToArray();
        var labels = Labels.AsSpan(start, count).ToArray();
        return new ImageSet(pixels, labels, Rows, Cols);
    }
}
