using Google.Protobuf;
using Onnx;

namespace FashionGpu.Training.Export;

/// <summary>
/// Builds an ONNX graph one operator at a time, for the layers' <c>ToOnnx</c>: each call adds a
/// node and returns the name of its output. Weights are added as initializers the first time a
/// layer asks for them, from the checkpoint's tensors. Values are [N,C,H,W] until flattened.
/// </summary>
public sealed class OnnxGraph(Func<string, (int[] Shape, float[] Data)> tensor)
{
    private readonly Dictionary<string, int> ranks = [];
    private readonly HashSet<string> initializers = [];

    public GraphProto Proto { get; } = new();

    /// <summary>Declares a graph input of rank <paramref name="rank"/> (its type is the exporter's to give).</summary>
    public string Input(string name, int rank)
    {
        ranks[name] = rank;
        return name;
    }

    /// <summary>The initializer holding the checkpoint tensor <paramref name="name"/> (conv1.weight), added once.</summary>
    public string Weight(string name)
    {
        if (initializers.Add(name))
        {
            var (shape, data) = tensor(name);
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            t.Dims.AddRange(shape.Select(d => (long)d));
            // raw_data is little-endian, as this machine's floats are (.NET runs little-endian only on the platforms ILGPU supports).
            t.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
            Proto.Initializer.Add(t);
        }
        return name;
    }

    /// <summary>Adds <c>op(inputs)</c> with the given attributes; its output, named <paramref name="output"/>, has the first input's rank unless <paramref name="rank"/> says otherwise.</summary>
    public string Node(string op, string output, string[] inputs, int? rank = null, params (string Name, object Value)[] attributes)
    {
        if (ranks.ContainsKey(output)) throw new ArgumentException($"two ONNX values named {output}");
        var node = new NodeProto { OpType = op, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        foreach (var (name, value) in attributes) node.Attribute.Add(Attribute(name, value));
        Proto.Node.Add(node);
        ranks[output] = rank ?? ranks.GetValueOrDefault(inputs[0], 4);
        return output;
    }

    /// <summary><paramref name="x"/> as [N, C*H*W]; a value that already has rank 2 is returned as it is.</summary>
    public string Flatten(string x, string output) =>
        ranks.GetValueOrDefault(x, 4) == 2 ? x : Node("Flatten", output, [x], rank: 2, ("axis", 1L));

    private static AttributeProto Attribute(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case long i:
                a.Type = AttributeProto.Types.AttributeType.Int;
                a.I = i;
                break;
            case float f:
                a.Type = AttributeProto.Types.AttributeType.Float;
                a.F = f;
                break;
            case long[] ints:
                a.Type = AttributeProto.Types.AttributeType.Ints;
                a.Ints.AddRange(ints);
                break;
            default:
                throw new ArgumentException($"attribute {name}: {value.GetType().Name} values are not supported");
        }
        return a;
    }
}
