using FashionGpu.Training.Model.Layers;

namespace FashionGpu.Training.Model;

/// <summary>One named tensor: its PyTorch name and shape, how it starts, and where it lives in its flat buffer.</summary>
public sealed record ParameterTensor(string Name, int[] Shape, int Offset, Init Init = Init.Zeros, bool Decay = false)
{
    public int Length => Shape.Aggregate(1, (a, b) => a * b);

    /// <summary>fan_in and fan_out as Keras' Glorot initializer counts them (receptive field included for convolutions).</summary>
    public (int FanIn, int FanOut) Fans => Shape.Length switch
    {
        4 => (Shape[1] * Shape[2] * Shape[3], Shape[0] * Shape[2] * Shape[3]),
        2 => (Shape[1], Shape[0]),
        _ => (0, 0),
    };
}

/// <summary>
/// Where each tensor of a model sits in one flat buffer (as llm.c keeps its parameters): the
/// trainable parameters in one layout, the persistent buffers (batch-norm statistics) in another.
/// Names and layouts are those of the equivalent torch.nn model, so checkpoints load there.
/// </summary>
public sealed class ParameterLayout
{
    public const int ImageSize = 28, Classes = 10;

    public IReadOnlyList<ParameterTensor> Tensors { get; }
    public int Count { get; }

    public ParameterLayout(IEnumerable<(string Name, TensorSpec Spec)> tensors)
    {
        var list = new List<ParameterTensor>();
        int offset = 0;
        foreach (var (name, spec) in tensors)
        {
            var t = new ParameterTensor(name, spec.Shape, offset, spec.Init, spec.Decay);
            list.Add(t);
            offset += t.Length;
        }
        Tensors = list;
        Count = offset;
    }

    public ParameterTensor this[string name] => Tensors.First(t => t.Name == name);

    /// <summary>
    /// The initial values: Glorot-uniform weights (limit sqrt(6 / (fan_in + fan_out)), drawn in
    /// tensor order from <paramref name="seed"/>), as Keras initialises them; zeros and ones as declared.
    /// </summary>
    public float[] Initial(ulong seed)
    {
        var values = new float[Count];
        var rng = new SplitMix64(seed);
        foreach (var t in Tensors)
        {
            switch (t.Init)
            {
                case Init.Ones:
                    Array.Fill(values, 1f, t.Offset, t.Length);
                    break;
                case Init.Glorot:
                    var (fanIn, fanOut) = t.Fans;
                    double limit = Math.Sqrt(6.0 / (fanIn + fanOut));
                    for (int i = 0; i < t.Length; i++) values[t.Offset + i] = (float)((rng.NextDouble() * 2 - 1) * limit);
                    break;
            }
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
