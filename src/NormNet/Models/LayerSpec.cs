namespace NormNet.Models;

/// <summary>One layer of a <see cref="NetworkSpec"/>: its type (a PyTorch layer name such as <c>Conv2d</c>), its
/// arguments, and for containers the lists of layers inside it (<c>layers</c> for a Sequential; <c>body</c> and
/// <c>shortcut</c> for a Residual). Immutable; compares by value.</summary>
public sealed class LayerSpec : IEquatable<LayerSpec>
{
    internal LayerSpec(string type, IReadOnlyDictionary<string, object?> arguments, IReadOnlyDictionary<string, IReadOnlyList<LayerSpec>> children)
    {
        Type = type;
        Arguments = arguments;
        Children = children;
    }

    /// <summary>A layer of <paramref name="kind"/> with the given arguments and child lists; arguments and optional
    /// lists left out take their defaults (an inferred size: null; a list: empty).</summary>
    internal static LayerSpec Create(LayerKind kind, IReadOnlyDictionary<string, object?> given,
        IReadOnlyDictionary<string, IReadOnlyList<LayerSpec>>? children = null)
    {
        foreach (var name in given.Keys)
            if (kind.Arg(name) is null) throw new InvalidOperationException($"{kind.Type} has no argument '{name}'.");
        var arguments = kind.Args.ToDictionary(a => a.Name, a => given.TryGetValue(a.Name, out var v) ? v : a.Default);
        var lists = kind.Children.ToDictionary(c => c.Name, c => children?.GetValueOrDefault(c.Name) ?? (IReadOnlyList<LayerSpec>)[]);
        return new LayerSpec(kind.Type, arguments, lists);
    }

    /// <summary>The layer type, e.g. <c>Linear</c>, <c>BatchNorm2d</c>, <c>Residual</c>.</summary>
    public string Type { get; }

    /// <summary>Every argument the type declares, by PyTorch name, with defaults filled in: an <see cref="int"/>,
    /// <see cref="double"/>, <see cref="bool"/>, the string <c>"$outputs"</c>, or null (an input size still to be
    /// inferred, or an explicit null such as <c>momentum: null</c>).</summary>
    public IReadOnlyDictionary<string, object?> Arguments { get; }

    /// <summary>The nested lists of layers, by name (<c>layers</c>, <c>body</c>, <c>shortcut</c>); empty for a leaf layer.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<LayerSpec>> Children { get; }

    /// <inheritdoc />
    public bool Equals(LayerSpec? other)
    {
        if (other is null) return false;
        if (ReferenceEquals(this, other)) return true;
        if (Type != other.Type || Arguments.Count != other.Arguments.Count || Children.Count != other.Children.Count) return false;
        foreach (var (name, value) in Arguments)
            if (!other.Arguments.TryGetValue(name, out var v) || !Equals(value, v)) return false;
        foreach (var (name, list) in Children)
            if (!other.Children.TryGetValue(name, out var l) || !list.SequenceEqual(l)) return false;
        return true;
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as LayerSpec);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Type, Arguments.Count, Children.Count);

    /// <summary>The layer as one line of JSON (containers include their children).</summary>
    public override string ToString() => SpecWriter.Layer(this);
}
