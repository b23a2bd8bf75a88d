using System.Globalization;
using System.Runtime.InteropServices;
using NormNet.Layers;
using NormNet.Optim;

namespace NormNet.Serialization;

/// <summary>
/// A training checkpoint: one safetensors file holding the model's state_dict (PyTorch names), the optimizer's
/// state tensors under <c>optimizer.</c>, and in the metadata the optimizer's step count, every random
/// generator's state and the caller's own entries (step, epoch, data position, architecture, ...).
/// Restoring all of it makes a resumed run bit-identical to an uninterrupted one.
/// </summary>
public static class Checkpoint
{
    /// <summary>Prefix of the optimizer's state tensors.</summary>
    public const string OptimizerPrefix = "optimizer.";

    /// <summary>Metadata key of the format name.</summary>
    public const string FormatKey = "format";

    /// <summary>The format name written in the metadata.</summary>
    public const string FormatName = "normnet-checkpoint-v1";

    private const string GeneratorPrefix = "rng.";
    private const string OptimizerStepKey = "optimizer_step_count";

    /// <summary>Writes the checkpoint atomically.</summary>
    public static void Save(string path, Module model, Optimizer? optimizer, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = ModelState.ToEntries(model);
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()) { [FormatKey] = FormatName };
        if (optimizer is not null)
        {
            foreach (var (name, state) in optimizer.StateTensors())
                entries.Add(SafeTensorsEntry.FromFloat32(OptimizerPrefix + name, state.ReadOnlySpan, state.Shape));
            meta[OptimizerStepKey] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture);
        }
        foreach (var (name, generator) in model.NamedGenerators())
            meta[GeneratorPrefix + name] = string.Join(",", generator.GetState().Select(w => w.ToString("x16", CultureInfo.InvariantCulture)));
        SafeTensors.Save(path, entries, meta);
    }

    /// <summary>
    /// Restores model, optimizer and generators from a checkpoint and returns its metadata. Everything is
    /// validated before anything changes: a file of another architecture or optimizer fails with a message
    /// naming the first mismatching tensor and leaves the model and optimizer untouched.
    /// </summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="model">The model to restore.</param>
    /// <param name="optimizer">The optimizer to restore, or null for the model alone.</param>
    /// <param name="validate">Whether to refuse non-finite values, negative variances or second moments and a wrong
    /// checksum (<see cref="StateValidation"/>); false only to inspect a broken run.</param>
    public static IReadOnlyDictionary<string, string> Load(string path, Module model, Optimizer? optimizer, bool validate = true) =>
        Load(SafeTensors.Load(path, verifyChecksum: validate), path, model, optimizer, validate);

    /// <summary>As <see cref="Load(string, Module, Optimizer?, bool)"/>, from a file already read; <paramref name="path"/> names it in errors.</summary>
    public static IReadOnlyDictionary<string, string> Load(SafeTensorsFile file, string path, Module model, Optimizer? optimizer, bool validate = true)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(model);
        if (!file.Metadata.TryGetValue(FormatKey, out var format) || format != FormatName)
            throw new InvalidDataException($"{path}: not a NormNet training checkpoint (format '{format ?? "missing"}', expected '{FormatName}').");
        // validate the optimizer's tensors before touching the model
        var optimizerStates = optimizer?.StateTensors().ToList() ?? [];
        foreach (var (name, state) in optimizerStates)
        {
            string key = OptimizerPrefix + name;
            if (!file.TryGet(key, out var entry))
                throw new InvalidDataException($"{path}: missing optimizer tensor '{key}' (saved with another optimizer or model?).");
            if (entry.DType != "F32" || !entry.Shape.AsSpan().SequenceEqual(state.Dims))
                throw new InvalidDataException($"{path}: optimizer tensor '{key}' is {entry.DType} {Tensor.Format(entry.Shape)}, expected F32 {state.ShapeString}.");
            if (validate) StateValidation.CheckEntry(entry, path);
        }
        var generators = model.NamedGenerators().ToList();
        var generatorStates = new List<ulong[]>();
        foreach (var (name, _) in generators)
        {
            if (!file.Metadata.TryGetValue(GeneratorPrefix + name, out var text))
                throw new InvalidDataException($"{path}: missing random generator state '{name}'.");
            generatorStates.Add(ParseState(text, name, path));
        }
        long steps = 0;
        if (optimizer is not null &&
            (!file.Metadata.TryGetValue(OptimizerStepKey, out var s) || !long.TryParse(s, CultureInfo.InvariantCulture, out steps)))
            throw new InvalidDataException($"{path}: missing or bad '{OptimizerStepKey}'.");
        StateValidation.CheckRange(steps, 0, long.MaxValue, $"'{OptimizerStepKey}'", path);
        ModelState.Load(model, file, "", strict: true, path, validate);
        foreach (var (name, state) in optimizerStates)
            MemoryMarshal.Cast<byte, float>(file[OptimizerPrefix + name].Data).CopyTo(state.Span);
        if (optimizer is not null) optimizer.StepCount = steps;
        for (int i = 0; i < generators.Count; i++) generators[i].Generator.SetState(generatorStates[i]);
        return file.Metadata;
    }

    private static ulong[] ParseState(string text, string name, string path)
    {
        var parts = text.Split(',');
        var state = new ulong[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!ulong.TryParse(parts[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out state[i]))
                throw new InvalidDataException($"{path}: bad random generator state for '{name}'.");
        if (state.Length != 4) throw new InvalidDataException($"{path}: random generator state for '{name}' has {state.Length} words, expected 4.");
        if ((state[0] | state[1] | state[2] | state[3]) == 0)
            throw new InvalidDataException($"{path}: random generator state for '{name}' is all zeros, which no generator can have.");
        return state;
    }
}
