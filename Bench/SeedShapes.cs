using FashionGpu.Kernels;
using FashionGpu.Training.Model;

namespace FashionGpu.Bench.Benchmarks;

/// <summary>
/// The kernel shapes of the seed's model at a batch size, for the per-kernel benchmarks: as the
/// network computes them, with pool1 trimmed to the 12 x 12 that conv2 reads (Model.TrimUnread).
/// </summary>
public static class SeedShapes
{
    public static ConvShape Conv1(int batch) => new(batch, 1, 32, 28, 28, 3, 3);
    public static ConvShape Conv2(int batch) => new(batch, 32, 64, 12, 12, 3, 3);
    public static PoolShape Pool1(int batch) => new(batch, 32, 26, 26, 12, 12);
    public static PoolShape Pool2(int batch) => new(batch, 64, 10, 10);
    public static DenseShape Fc1(int batch) => new(batch, 1600, 128);
    public static DenseShape Fc2(int batch) => new(batch, 128, 10);

    /// <summary>The seed's trainable parameter count.</summary>
    public static int Parameters => Presets.Seed(new()).Parameters.Count;
}
