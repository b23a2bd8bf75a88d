using System.Runtime.InteropServices;
using NormNet.Layers;

namespace NormNet.Serialization;

/// <summary>
/// A model's parameters and buffers as safetensors, named as PyTorch's <c>state_dict</c> of the same
/// architecture (<c>0.weight</c>, <c>1.running_mean</c>, <c>1.num_batches_tracked</c> as I64), so either side
/// can load the other's weights.
/// </summary>
public static class ModelState
{
    /// <summary>The model's state as safetensors entries, in state_dict order.</summary>
    public static List<SafeTensorsEntry> ToEntries(Module model, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(model);
        var entries = new List<SafeTensorsEntry>();
        foreach (var (name, tensor, scalar) in model.StateEntries())
            entries.Add(tensor is not null
                ? SafeTensorsEntry.FromFloat32(prefix + name, tensor.ReadOnlySpan, tensor.Shape)
                : SafeTensorsEntry.FromInt64(prefix + name, [scalar!.Value], []));
        return entries;
    }

    /// <summary>Writes the model's state atomically to a safetensors file.</summary>
    public static void Save(Module model, string path, IReadOnlyDictionary<string, string>? metadata = null) =>
        SafeTensors.Save(path, ToEntries(model), metadata);

    /// <summary>Loads a safetensors file into the model; see <see cref="Load(Module, SafeTensorsFile, string, bool, string, bool)"/>.</summary>
    /// <param name="model">The model to fill.</param>
    /// <param name="path">The safetensors file.</param>
    /// <param name="strict">Whether a tensor the model does not have is an error.</param>
    /// <param name="validate">Whether to refuse non-finite values, negative variances and a wrong checksum
    /// (<see cref="StateValidation"/>); false only to inspect a broken model.</param>
    public static void Load(Module model, string path, bool strict = true, bool validate = true) =>
        Load(model, SafeTensors.Load(path, verifyChecksum: validate), "", strict, path, validate);

    /// <summary>
    /// Copies the file's tensors into the model after checking all of them first: every model entry must be
    /// present with the same dtype and shape, and with <paramref name="strict"/> no other tensor may exist
    /// (outside names starting with another prefix). On any mismatch an <see cref="InvalidDataException"/>
    /// names the first offending tensor and the model is left unchanged. With <paramref name="validate"/> the values
    /// are checked too (<see cref="StateValidation.CheckEntry"/>): a NaN weight or a negative running variance is
    /// refused the same way.
    /// </summary>
    public static void Load(Module model, SafeTensorsFile file, string prefix, bool strict, string source, bool validate = true)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(model);
        var expected = model.StateEntries().ToList();
        var names = new HashSet<string>();
        foreach (var (name, tensor, _) in expected)
        {
            string key = prefix + name;
            names.Add(key);
            if (!file.TryGet(key, out var entry))
                throw new InvalidDataException($"{source}: missing tensor '{key}' (the file does not match this model; its first tensor is '{file.Entries.FirstOrDefault()?.Name}').");
            string dtype = tensor is null ? "I64" : "F32";
            if (entry.DType != dtype)
                throw new InvalidDataException($"{source}: tensor '{key}' has dtype {entry.DType}, expected {dtype}.");
            int[] shape = tensor?.Shape ?? [];
            bool scalarOk = tensor is null && entry.ElementCount == 1;
            if (!entry.Shape.AsSpan().SequenceEqual(shape) && !scalarOk)
                throw new InvalidDataException($"{source}: tensor '{key}' has shape {Tensor.Format(entry.Shape)}, expected {Tensor.Format(shape)}.");
            if (validate) StateValidation.CheckEntry(entry, source);
        }
        if (strict)
            foreach (var entry in file.Entries)
                if (entry.Name.StartsWith(prefix, StringComparison.Ordinal) && !names.Contains(entry.Name) && !IsOtherSection(entry.Name, prefix))
                    throw new InvalidDataException($"{source}: unexpected tensor '{entry.Name}' not in this model.");
        foreach (var (name, tensor, scalar) in expected)
        {
            var entry = file[prefix + name];
            if (tensor is not null) MemoryMarshal.Cast<byte, float>(entry.Data).CopyTo(tensor.Span);
            else scalar!.Value = entry.ToInt64()[0];
        }
    }

    private static bool IsOtherSection(string name, string prefix) =>
        prefix.Length == 0 && name.StartsWith(Checkpoint.OptimizerPrefix, StringComparison.Ordinal);
}
