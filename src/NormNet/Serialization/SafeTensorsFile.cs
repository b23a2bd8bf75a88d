namespace NormNet.Serialization;

/// <summary>The validated contents of a safetensors file.</summary>
public sealed class SafeTensorsFile
{
    private readonly Dictionary<string, SafeTensorsEntry> _byName;

    internal SafeTensorsFile(IReadOnlyList<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        Entries = entries;
        Metadata = metadata;
        _byName = entries.ToDictionary(e => e.Name);
    }

    /// <summary>The tensors in header order.</summary>
    public IReadOnlyList<SafeTensorsEntry> Entries { get; }

    /// <summary>The <c>__metadata__</c> string map (empty if absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Whether a tensor of that name exists.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The tensor of that name.</summary>
    /// <exception cref="KeyNotFoundException">No such tensor.</exception>
    public SafeTensorsEntry this[string name] =>
        _byName.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"No tensor named '{name}' in the file.");

    /// <summary>Looks up a tensor by name.</summary>
    public bool TryGet(string name, out SafeTensorsEntry entry) => _byName.TryGetValue(name, out entry!);
}
