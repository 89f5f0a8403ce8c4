using FashionGpu.Training.Model.Layers;

namespace FashionGpu.Training.Model;

/// <summary>
/// An architecture: an ordered list of layers from a [1,28,28] image to 10 logits, with every
/// shape resolved and the layouts of its trainable parameters and persistent buffers. A model's
/// layers belong to the one <see cref="Network"/> built from it.
/// </summary>
public sealed class Model
{
    public static readonly TensorShape ImageShape = new(1, ParameterLayout.ImageSize, ParameterLayout.ImageSize);

    /// <summary>The preset's name, saved in checkpoints so they are loaded into the same architecture.</summary>
    public string Name { get; }
    public IReadOnlyList<Layer> Layers { get; }
    public ParameterLayout Parameters { get; }
    public ParameterLayout Buffers { get; }

    /// <param name="trim">Compute only what later layers read (<see cref="TrimUnread"/>); false gives PyTorch's shapes everywhere (tests compare the two).</param>
    public Model(string name, IReadOnlyList<Layer> layers, bool trim = true)
    {
        Name = name;
        Layers = layers;
        var shape = ImageShape;
        foreach (var layer in layers)
        {
            layer.Connect(shape, nominal: true);
            shape = layer.Output;
        }
        if (shape != new TensorShape(ParameterLayout.Classes, 1, 1))
            throw new ArgumentException($"model {name} ends in {shape}, expected {ParameterLayout.Classes} logits");
        if (trim) TrimUnread(layers);
        shape = ImageShape;
        int dropouts = 0;
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            layer.Connect(shape, nominal: false);
            shape = layer.Output;
            if (layer is DropoutLayer d) d.Stream = ++dropouts;
            // ReLU then max pooling: the pooling's backward pass takes ReLU's derivative too.
            if (i > 0 && layers[i - 1].ReluOutput && layer.AbsorbsRelu)
            {
                layers[i - 1].ReluDoneByNext = true;
                layer.TakesReluOfPrevious = true;
            }
        }
        if (layers.Select(l => l.Name).Distinct().Count() != layers.Count) throw new ArgumentException($"model {name}: two layers share a name");
        Parameters = new ParameterLayout(layers.SelectMany(l => l.Parameters.Select(p => ($"{l.Name}.{p.Name}", p))));
        Buffers = new ParameterLayout(layers.SelectMany(l => l.Buffers.Select(b => ($"{l.Name}.{b.Name}", b))));
    }

    /// <summary>
    /// Walks back from the logits, asking each layer which rows and columns of its input its
    /// needed outputs read (<see cref="Layer.Reads"/>), and lets a <see cref="Layer.Trimmable"/>
    /// layer keep only those. In the seed model, pool2 floors conv2's 11 x 11 output to 5 x 5,
    /// so conv2's row and column 10 are never read; conv2's 10 x 10 then read only 12 x 12 of
    /// pool1's 13 x 13, and pool1 computes just those: conv2 then does 100 pixels' work instead
    /// of 121 in all three of its passes. What is skipped only ever met a zero gradient, so the
    /// results are the same, bit for bit.
    /// </summary>
    private static void TrimUnread(IReadOnlyList<Layer> layers)
    {
        var (h, w) = (1, 1);
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            var layer = layers[i];
            if (layer.Trimmable && (h < layer.Output.Height || w < layer.Output.Width)) layer.Trim = (h, w);
            (h, w) = layer.Reads(Math.Min(h, layer.Output.Height), Math.Min(w, layer.Output.Width));
        }
    }

    /// <summary>Multiply-adds of one sample's forward pass.</summary>
    public long MultiplyAdds => Layers.Sum(l => l.MultiplyAdds);

    /// <summary>Multiply-adds of one sample's training step: forward, and two backward passes per layer except the first (its input needs no gradient).</summary>
    public long TrainingMultiplyAdds => Layers.Select((l, i) => l.MultiplyAdds * (i == 0 ? 2 : 3)).Sum();

    /// <summary>About how many bytes of device memory a network for <paramref name="maxBatch"/> allocates (the kernels' scratch buffers included roughly).</summary>
    public long DeviceBytes(int maxBatch)
    {
        long perSample = ImageShape.Size + 3;
        long scratch = 0;
        foreach (var l in Layers)
        {
            if (!l.InPlace) perSample += 2L * l.Output.Size;
            // Padded copies of the input and its gradient; the GEMMs' packed operands are about an output's size.
            if (l is Conv2dLayer { Padding: > 0 } c) perSample += 2L * l.Input.Channels * (l.Input.Height + 2 * c.Padding) * (l.Input.Width + 2 * c.Padding);
            scratch = Math.Max(scratch, l.Output.Size);
        }
        return 4 * (4L * Parameters.Count + Buffers.Count + maxBatch * (perSample + scratch));
    }
}
