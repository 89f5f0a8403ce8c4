using FashionGpu.Kernels;
using FashionGpu.Training.Model;

namespace FashionGpu.Bench.Benchmarks;

/// <summary>The kernel shapes of the seed's model at a batch size, for the per-kernel benchmarks.</summary>
public static class SeedShapes
{
    public static ConvShape Conv1(int batch) => new(batch, 1, 32, 28, 28, 3, 3);
    public static ConvShape Conv2(int batch) => new(batch, 32, 64, 13, 13, 3, 3);
    public static PoolShape Pool1(int batch) => new(batch, 32, 26, 26);
    public static PoolShape Pool2(int batch) => new(batch, 64, 11, 11);
    public static DenseShape Fc1(int batch) => new(batch, 1600, 128);
    public static DenseShape Fc2(int batch) => new(batch, 128, 10);

    /// <summary>The seed's trainable parameter count.</summary>
    public static int Parameters => Presets.Seed(new()).Parameters.Count;
}
