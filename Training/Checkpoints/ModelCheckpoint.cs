using FashionGpu.Training.Model;

namespace FashionGpu.Training.Checkpoints;

/// <summary>The network's state as read from a checkpoint.</summary>
public sealed record ModelState(float[] Parameters, float[]? AdamM, float[]? AdamV, IReadOnlyDictionary<string, string> Metadata)
{
    public long? MetadataLong(string key) => Metadata.TryGetValue(key, out var s) && long.TryParse(s, out var v) ? v : null;
}

/// <summary>
/// Maps the flat parameter buffer to safetensors tensors with PyTorch's names and layouts
/// (conv1.weight [32,1,3,3] ... fc2.bias [10]), and Adam's moments to optimizer.NAME.m / .v.
/// </summary>
public static class ModelCheckpoint
{
    public static void Save(string path, ParameterLayout layout, float[] parameters, float[]? m, float[]? v, IReadOnlyDictionary<string, string> metadata)
    {
        var tensors = new List<Tensor>();
        foreach (var t in layout.Tensors) tensors.Add(new Tensor(t.Name, t.Shape, parameters.AsSpan(t.Offset, t.Length).ToArray()));
        if (m is not null && v is not null)
        {
            foreach (var t in layout.Tensors) tensors.Add(new Tensor($"optimizer.{t.Name}.m", t.Shape, m.AsSpan(t.Offset, t.Length).ToArray()));
            foreach (var t in layout.Tensors) tensors.Add(new Tensor($"optimizer.{t.Name}.v", t.Shape, v.AsSpan(t.Offset, t.Length).ToArray()));
        }
        SafeTensors.Write(path, tensors, metadata);
    }

    /// <summary>
    /// Reads the model tensors (every one required, with its exact shape) and, when all are
    /// present, Adam's moments. Throws <see cref="CheckpointFileException"/> with one line.
    /// </summary>
    public static ModelState Load(string path, ParameterLayout layout, bool requireOptimizer = false)
    {
        var file = SafeTensors.Read(path);
        var byName = file.Tensors.ToDictionary(t => t.Name);
        float[] Gather(Func<ParameterTensor, string> name)
        {
            var flat = new float[layout.Count];
            foreach (var t in layout.Tensors)
            {
                if (!byName.TryGetValue(name(t), out var tensor))
                    throw new CheckpointFileException($"{path}: tensor {name(t)} is missing");
                if (!tensor.Shape.SequenceEqual(t.Shape))
                    throw new CheckpointFileException($"{path}: tensor {name(t)} has shape [{string.Join(",", tensor.Shape)}], expected [{string.Join(",", t.Shape)}]");
                tensor.Data.CopyTo(flat, t.Offset);
            }
            return flat;
        }
        var parameters = Gather(t => t.Name);
        bool hasOptimizer = layout.Tensors.All(t => byName.ContainsKey($"optimizer.{t.Name}.m") && byName.ContainsKey($"optimizer.{t.Name}.v"));
        if (requireOptimizer && !hasOptimizer)
            throw new CheckpointFileException($"{path}: the optimizer state (optimizer.*.m and .v tensors) is missing, so training cannot resume from it");
        return hasOptimizer
            ? new ModelState(parameters, Gather(t => $"optimizer.{t.Name}.m"), Gather(t => $"optimizer.{t.Name}.v"), file.Metadata)
            : new ModelState(parameters, null, null, file.Metadata);
    }
}
