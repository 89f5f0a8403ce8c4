namespace FashionGpu.Training.Checkpoints;

/// <summary>
/// A named float32 tensor as stored in a checkpoint: shape in the project's layouts (NCHW,
/// OIHW, [out, in]) and its elements contiguous, last dimension fastest.
/// </summary>
/// <remarks>Record equality compares the arrays by reference, not by content.</remarks>
public sealed record Tensor(string Name, int[] Shape, float[] Data)
{
    public string Name { get; init; } = string.IsNullOrEmpty(Name)
        ? throw new ArgumentException("a tensor needs a non-empty name", nameof(Name))
        : Name;

    public int[] Shape { get; init; } = CheckShape(Name, Shape);

    public float[] Data { get; init; } = CheckData(Name, Shape, Data);

    /// <summary>The number of elements a shape describes (1 for a scalar, shape []).</summary>
    /// <exception cref="OverflowException">The product does not fit in a long.</exception>
    public static long ElementCount(IReadOnlyList<int> shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            count = checked(count * d);
        }

        return count;
    }

    /// <summary>A shape as "[32,1,3,3]", the form used in error messages.</summary>
    public static string FormatShape(IEnumerable<int> shape) => $"[{string.Join(",", shape)}]";

    private static int[] CheckShape(string name, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Any(d => d < 0))
        {
            throw new ArgumentException($"tensor {name}: shape {FormatShape(shape)} has a negative dimension", nameof(Shape));
        }

        return shape;
    }

    private static float[] CheckData(string name, int[] shape, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        long expected;
        try
        {
            expected = ElementCount(shape);
        }
        catch (OverflowException)
        {
            expected = -1;
        }

        if (expected != data.Length)
        {
            throw new ArgumentException(
                $"tensor {name}: shape {FormatShape(shape)} needs {(expected < 0 ? "too many" : expected)} elements but data has {data.Length}",
                nameof(Data));
        }

        return data;
    }
}
