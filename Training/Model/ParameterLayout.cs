namespace FashionGpu.Training.Model;

/// <summary>One named parameter tensor: its PyTorch name and shape, and where it lives in the flat parameter buffer.</summary>
public sealed record ParameterTensor(string Name, int[] Shape, int Offset)
{
    public int Length => Shape.Aggregate(1, (a, b) => a * b);

    /// <summary>fan_in and fan_out as Keras' Glorot initializer counts them (receptive field included for convolutions).</summary>
    public (int FanIn, int FanOut) Fans => Shape.Length switch
    {
        4 => (Shape[1] * Shape[2] * Shape[3], Shape[0] * Shape[2] * Shape[3]),
        2 => (Shape[1], Shape[0]),
        _ => (0, 0),
    };

    public bool IsBias => Shape.Length == 1;
}

/// <summary>
/// The seed's network and where each parameter sits in one flat buffer (as llm.c keeps its
/// parameters): conv1 32x1x3x3, conv2 64x32x3x3, fc1 128x1600, fc2 10x128, with biases.
/// Names and layouts are those of the equivalent torch.nn model, so checkpoints load there.
/// </summary>
public sealed class ParameterLayout
{
    public const int ImageSize = 28, Classes = 10;
    public const int Conv1Channels = 32, Conv2Channels = 64, KernelSize = 3, Hidden = 128;

    /// <summary>Spatial size after conv1 (26), pool1 (13), conv2 (11) and pool2 (5).</summary>
    public const int Conv1Out = ImageSize - KernelSize + 1, Pool1Out = Conv1Out / 2, Conv2Out = Pool1Out - KernelSize + 1, Pool2Out = Conv2Out / 2;

    /// <summary>Inputs of fc1: the flattened (C, H, W) output of pool2, 1600.</summary>
    public const int Flattened = Conv2Channels * Pool2Out * Pool2Out;

    public static ParameterLayout Seed { get; } = new(
        ("conv1.weight", [Conv1Channels, 1, KernelSize, KernelSize]), ("conv1.bias", [Conv1Channels]),
        ("conv2.weight", [Conv2Channels, Conv1Channels, KernelSize, KernelSize]), ("conv2.bias", [Conv2Channels]),
        ("fc1.weight", [Hidden, Flattened]), ("fc1.bias", [Hidden]),
        ("fc2.weight", [Classes, Hidden]), ("fc2.bias", [Classes]));

    public IReadOnlyList<ParameterTensor> Tensors { get; }
    public int Count { get; }

    private ParameterLayout(params (string Name, int[] Shape)[] tensors)
    {
        var list = new List<ParameterTensor>();
        int offset = 0;
        foreach (var (name, shape) in tensors)
        {
            var t = new ParameterTensor(name, shape, offset);
            list.Add(t);
            offset += t.Length;
        }
        Tensors = list;
        Count = offset;
    }

    public ParameterTensor this[string name] => Tensors.First(t => t.Name == name);

    /// <summary>Glorot-uniform weights (limit sqrt(6 / (fan_in + fan_out))) and zero biases, as Keras initialises them.</summary>
    public float[] GlorotUniform(ulong seed)
    {
        var values = new float[Count];
        var rng = new SplitMix64(seed);
        foreach (var t in Tensors)
        {
            if (t.IsBias) continue;
            var (fanIn, fanOut) = t.Fans;
            double limit = Math.Sqrt(6.0 / (fanIn + fanOut));
            for (int i = 0; i < t.Length; i++) values[t.Offset + i] = (float)((rng.NextDouble() * 2 - 1) * limit);
        }
        return values;
    }
}

/// <summary>A small, fast, fully specified generator, so shuffles and initial weights are the same on every platform and .NET version.</summary>
public struct SplitMix64(ulong seed)
{
    private ulong state = seed;

    public ulong Next()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>An integer in [0, n), unbiased (Lemire's method with rejection).</summary>
    public int NextInt(int n)
    {
        ulong bound = (ulong)n, threshold = (0UL - bound) % bound;
        while (true)
        {
            ulong r = Next();
            UInt128 m = (UInt128)r * bound;
            if ((ulong)m >= threshold) return (int)(ulong)(m >> 64);
        }
    }

    /// <summary>Fisher-Yates shuffle of the whole array.</summary>
    public void Shuffle(int[] values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    /// <summary>A seed for a sub-stream, derived from a base seed and labels (e.g. the epoch).</summary>
    public static ulong Derive(ulong seed, ulong a, ulong b = 0)
    {
        var g = new SplitMix64(seed ^ (a * 0xD1B54A32D192ED03UL) ^ (b * 0xABC98388FB8FAC03UL));
        g.Next();
        return g.Next();
    }
}
