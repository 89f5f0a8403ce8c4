using System.Text.Json;
using FashionGpu.Training.Checkpoints;
using FashionGpu.Training.Data;
using FashionGpu.Training.Model;
using Google.Protobuf;
using Onnx;

namespace FashionGpu.Training.Export;

/// <summary>A checkpoint the export cannot represent faithfully; the message is one line.</summary>
public sealed class OnnxExportException(string message) : Exception(message);

/// <summary>
/// A model's inference graph with a checkpoint's weights as an ONNX model: input <c>image</c>
/// [N,1,28,28] float32 in [0,1] (pixels / 255), outputs <c>logits</c> and <c>probabilities</c>
/// (softmax) [N,10]; each layer adds its own operators (Layer.ToOnnx), dropout adds none. The
/// class names and the checkpoint's metadata go into the model's metadata_props.
/// </summary>
public static class OnnxExport
{
    /// <summary>
    /// IR version 8 and opset 17: what the compiled schema (ONNX 1.12, Export/onnx.proto) defines.
    /// The operators used (Conv, BatchNormalization, Relu, MaxPool, Flatten, Gemm, Softmax) have
    /// not changed meaning since; ONNX Runtime supports this IR and opset from 1.12 on (its compatibility table).
    /// </summary>
    public const long IrVersion = 8, Opset = 17;

    public const string InputName = "image", LogitsName = "logits", ProbabilitiesName = "probabilities", BatchDimension = "N";
    public const string ClassNamesKey = "class_names";

    public static ModelProto Build(Model.Model model, ModelState state)
    {
        (int[], float[]) Tensor(string name)
        {
            foreach (var (layout, values) in new[] { (model.Parameters, state.Parameters), (model.Buffers, state.Buffers) })
            {
                if (layout.Tensors.FirstOrDefault(t => t.Name == name) is not { } t) continue;
                var data = values.AsSpan(t.Offset, t.Length).ToArray();
                if (Array.FindIndex(data, v => !float.IsFinite(v)) is var bad and >= 0)
                    throw new OnnxExportException($"tensor {name} holds a non-finite value ({data[bad]} at element {bad}): the weights are not a trained model");
                return (t.Shape, data);
            }
            throw new OnnxExportException($"model {model.Name} has no tensor {name}");
        }

        var graph = new OnnxGraph(Tensor);
        string x = graph.Input(InputName, 4);
        foreach (var layer in model.Layers) x = layer.ToOnnx(graph, x);
        graph.Node("Identity", LogitsName, [x]);
        graph.Node("Softmax", ProbabilitiesName, [LogitsName], null, ("axis", 1L));

        var g = graph.Proto;
        g.Name = model.Name;
        g.Input.Add(Value(InputName, BatchDimension, 1, ParameterLayout.ImageSize, ParameterLayout.ImageSize));
        g.Output.Add(Value(LogitsName, BatchDimension, ParameterLayout.Classes));
        g.Output.Add(Value(ProbabilitiesName, BatchDimension, ParameterLayout.Classes));

        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "FashionGpu",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString(3) ?? "",
            Domain = "fashiongpu",
            ModelVersion = 1,
            DocString = $"FashionGpu model {model.Name}: a Fashion-MNIST classifier. Input image [N,1,28,28], gray pixels / 255 "
                + "(light garment on a dark background); outputs logits and softmax probabilities [N,10] in the order of metadata class_names.",
            Graph = g,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        var metadata = new SortedDictionary<string, string>(state.Metadata.ToDictionary(), StringComparer.Ordinal)
        {
            [ModelCheckpoint.ModelKey] = model.Name,
            [ClassNamesKey] = JsonSerializer.Serialize(FashionMnist.ClassNames),
        };
        foreach (var (key, value) in metadata) proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return proto;
    }

    /// <summary>Writes the model to <paramref name="path"/> whole or not at all (<see cref="OutputFile"/>).</summary>
    public static void Write(string path, ModelProto proto) => OutputFile.Write(path, proto.WriteTo);

    /// <summary>One line saying what <paramref name="path"/> now holds.</summary>
    public static string Describe(string path, Model.Model model, ModelProto proto) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"Wrote {path}: model {model.Name}, {proto.Graph.Node.Count} nodes, {model.Parameters.Count:N0} parameters, {new FileInfo(path).Length / 1e6:0.00} MB; " +
        $"ONNX IR {IrVersion}, opset {Opset}; input {InputName} [N,1,28,28], outputs {LogitsName} and {ProbabilitiesName} [N,10]");

    /// <summary>A float32 tensor value; a string dimension is symbolic (the batch), an int fixed.</summary>
    private static ValueInfoProto Value(string name, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = (int)d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
