using FashionGpu.Training.Model;

namespace FashionGpu.Training.Checkpoints;

/// <summary>The network's state as read from a checkpoint.</summary>
public sealed record ModelState(float[] Parameters, float[] Buffers, float[]? AdamM, float[]? AdamV, IReadOnlyDictionary<string, string> Metadata)
{
    public long? MetadataLong(string key) => Metadata.TryGetValue(key, out var s) && long.TryParse(s, out var v) ? v : null;
}

/// <summary>
/// Maps the flat parameter and buffer arrays to safetensors tensors with PyTorch's names and
/// layouts (conv1.weight [32,1,3,3] ... fc2.bias [10]; bn1.running_mean ...), and Adam's moments
/// to optimizer.NAME.m / .v. The metadata's "model" names the preset, so a checkpoint is read
/// back into the architecture it was saved from. A file without it (a PyTorch state dict, or one
/// from a version before presets) is read into the preset whose parameters it holds, names and
/// shapes; the seed's when none fits.
/// </summary>
public static class ModelCheckpoint
{
    public const string ModelKey = "model";

    public static void Save(string path, Model.Model model, float[] parameters, float[] buffers, float[]? m, float[]? v, IReadOnlyDictionary<string, string> metadata)
    {
        var tensors = new List<Tensor>();
        foreach (var t in model.Parameters.Tensors) tensors.Add(new Tensor(t.Name, t.Shape, parameters.AsSpan(t.Offset, t.Length).ToArray()));
        foreach (var t in model.Buffers.Tensors) tensors.Add(new Tensor(t.Name, t.Shape, buffers.AsSpan(t.Offset, t.Length).ToArray()));
        if (m is not null && v is not null)
        {
            foreach (var t in model.Parameters.Tensors) tensors.Add(new Tensor($"optimizer.{t.Name}.m", t.Shape, m.AsSpan(t.Offset, t.Length).ToArray()));
            foreach (var t in model.Parameters.Tensors) tensors.Add(new Tensor($"optimizer.{t.Name}.v", t.Shape, v.AsSpan(t.Offset, t.Length).ToArray()));
        }
        var withModel = new Dictionary<string, string>(metadata) { [ModelKey] = model.Name };
        SafeTensors.Write(path, tensors, withModel);
    }

    /// <summary>Reads a checkpoint into the preset its metadata names, or else the one its tensors fit (the seed's when none does).</summary>
    public static (Model.Model Model, ModelState State) Load(string path, bool requireOptimizer = false)
    {
        var file = SafeTensors.Read(path);
        Model.Model model;
        if (file.Metadata.TryGetValue(ModelKey, out var name))
        {
            var preset = Presets.Find(name) ?? throw CheckpointFileException.For(path,
                $"was saved from model {name}, which this version does not have (it has: {string.Join(", ", Presets.All.Select(p => p.Name))})");
            model = preset.Build(new TrainingConfig { Model = name });
        }
        else
        {
            // The preset with the most of its parameters present, names and shapes (the first of
            // equals, so the seed's when nothing fits): a near miss is reported against the model it nearly is.
            var shapes = file.Tensors.ToDictionary(t => t.Name, t => t.Shape);
            model = Presets.All.Select(p => p.Build(new TrainingConfig { Model = p.Name }))
                .Select(m => (Model: m, Fits: m.Parameters.Tensors.Count(t => shapes.TryGetValue(t.Name, out var s) && s.SequenceEqual(t.Shape))))
                .MaxBy(c => (c.Fits == c.Model.Parameters.Tensors.Count, c.Fits)).Model;
        }
        return (model, Gather(path, file, model, requireOptimizer));
    }

    /// <summary>
    /// Reads the tensors of <paramref name="model"/> (every one required, with its exact shape)
    /// and, when all are present, Adam's moments. Throws <see cref="CheckpointFileException"/> with one line.
    /// </summary>
    public static ModelState Load(string path, Model.Model model, bool requireOptimizer = false) => Gather(path, SafeTensors.Read(path), model, requireOptimizer);

    private static ModelState Gather(string path, (IReadOnlyList<Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) file, Model.Model model, bool requireOptimizer)
    {
        var byName = file.Tensors.ToDictionary(t => t.Name);
        if (file.Metadata.TryGetValue(ModelKey, out var saved) && saved != model.Name)
            throw CheckpointFileException.For(path, $"holds model {saved}, not {model.Name}");
        float[] Flat(ParameterLayout layout, Func<ParameterTensor, string> name)
        {
            var flat = new float[layout.Count];
            foreach (var t in layout.Tensors)
            {
                if (!byName.TryGetValue(name(t), out var tensor))
                    throw CheckpointFileException.For(path, $"tensor {name(t)} is missing (model {model.Name})");
                if (!tensor.Shape.SequenceEqual(t.Shape))
                    throw CheckpointFileException.For(path, $"tensor {name(t)} has shape {Tensor.FormatShape(tensor.Shape)}, expected {Tensor.FormatShape(t.Shape)}");
                tensor.Data.CopyTo(flat, t.Offset);
            }
            return flat;
        }
        var layout = model.Parameters;
        var parameters = Flat(layout, t => t.Name);
        var buffers = Flat(model.Buffers, t => t.Name);
        bool hasOptimizer = layout.Tensors.All(t => byName.ContainsKey($"optimizer.{t.Name}.m") && byName.ContainsKey($"optimizer.{t.Name}.v"));
        if (requireOptimizer && !hasOptimizer)
            throw CheckpointFileException.For(path, "the optimizer state (optimizer.*.m and .v tensors) is missing, so training cannot resume from it");
        return hasOptimizer
            ? new ModelState(parameters, buffers, Flat(layout, t => $"optimizer.{t.Name}.m"), Flat(layout, t => $"optimizer.{t.Name}.v"), file.Metadata)
            : new ModelState(parameters, buffers, null, null, file.Metadata);
    }
}
