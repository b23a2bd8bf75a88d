using NormNet.Layers;

namespace NormNet.Models;

/// <summary>One layer being resolved (and, when building, built) by <see cref="SpecCompiler"/>: its arguments with
/// <c>"$outputs"</c> filled in, its per-sample input shape, and errors that name it by path and type.</summary>
internal sealed class LayerContext
{
    private readonly SpecCompiler _compiler;
    private readonly Dictionary<string, object?> _args;
    private readonly Dictionary<string, IReadOnlyList<LayerSpec>> _children;
    private readonly Dictionary<string, Module[]> _built = [];

    /// <summary>Prepares the layer at <paramref name="path"/> (e.g. <c>layers[2].body[0]</c>) for the given input.</summary>
    public LayerContext(SpecCompiler compiler, LayerSpec layer, string path, int[] input)
    {
        _compiler = compiler;
        Layer = layer;
        Path = path;
        Input = input;
        Kind = LayerCatalog.Find(layer.Type) ?? throw new InvalidOperationException($"No layer table entry for '{layer.Type}'.");
        _args = layer.Arguments.ToDictionary(a => a.Key, a => a.Value is ArgDef.Outputs ? compiler.Outputs : a.Value);
        _children = layer.Children.ToDictionary(c => c.Key, c => c.Value);
    }

    /// <summary>The layer as written.</summary>
    public LayerSpec Layer { get; }

    /// <summary>Its table entry.</summary>
    public LayerKind Kind { get; }

    /// <summary>Where it is: <c>layers[3]</c>, <c>layers[2].body[0]</c>.</summary>
    public string Path { get; }

    /// <summary>The per-sample input shape (no batch dimension).</summary>
    public int[] Input { get; }

    /// <summary>The input shape as text, e.g. <c>(64, 7, 7)</c>.</summary>
    public string InputText => Tensor.Format(Input);

    /// <summary>The generator that draws initial weights (only while building).</summary>
    public Rng Rng => _compiler.Rng ?? throw new InvalidOperationException("Layers are created only while building.");

    /// <summary>The module built by <see cref="Run"/>, or null when only inferring shapes.</summary>
    public Module? Module { get; private set; }

    /// <summary>The layer with its inferred sizes filled in (after <see cref="Run"/>).</summary>
    public LayerSpec? Resolved { get; private set; }

    /// <summary>An error naming the file, this layer's path and type: <c>net.json: layers[3] (Linear): message</c>.</summary>
    public InvalidDataException Error(string message) => new($"{_compiler.Source}: {Path} ({Layer.Type}): {message}");

    /// <summary>An integer argument (after inference).</summary>
    public int Int(string name) => (int)_args[name]!;

    /// <summary>An integer argument that may be null.</summary>
    public int? IntOrNull(string name) => (int?)_args[name];

    /// <summary>A boolean argument.</summary>
    public bool Bool(string name) => (bool)_args[name]!;

    /// <summary>A number argument.</summary>
    public double Number(string name) => (double)_args[name]!;

    /// <summary>A number argument that may be null.</summary>
    public double? NumberOrNull(string name) => (double?)_args[name];

    /// <summary>Replaces an argument's value (e.g. to write a pool's stride equal to its kernel size as the default).</summary>
    public void Set(string name, object? value) => _args[name] = value;

    /// <summary>Throws unless the input has one of <paramref name="ranks"/> dimensions, e.g. <c>expected input of 1
    /// dimension (features), got (64, 7, 7); add a Flatten before it</c>.</summary>
    public void ExpectRank(int[] ranks, string layout, string? hintWhenLarger = null)
    {
        if (ranks.Contains(Input.Length)) return;
        string count = string.Join(" or ", ranks) + (ranks is [1] ? " dimension" : " dimensions");
        string hint = hintWhenLarger is not null && Input.Length > ranks.Max() ? $"; {hintWhenLarger}" : "";
        throw Error($"expected input of {count} {layout}, got {InputText}{hint}");
    }

    /// <summary>Fills in an inferred size from the input, or checks the given one: <c>in_channels is 3, but its input
    /// (32, 14, 14) has 32 channels</c>.</summary>
    public int InferSize(string name, int actual, string what)
    {
        if (IntOrNull(name) is { } given && given != actual)
            throw Error($"{name} is {given}, but its input {InputText} has {actual} {what}");
        _args[name] = actual;
        return actual;
    }

    /// <summary>Resolves (and builds) a child list on <paramref name="input"/> and returns its output shape.</summary>
    public int[] Walk(string list, int[] input)
    {
        var layers = _children.TryGetValue(list, out var l) ? l : [];
        var (resolved, modules, output) = _compiler.WalkList(layers, $"{Path}.{list}", input);
        _children[list] = resolved;
        _built[list] = modules;
        return output;
    }

    /// <summary>The modules built for a child list by <see cref="Walk"/>.</summary>
    public Module[] Built(string list) => _built.TryGetValue(list, out var m) ? m : [];

    /// <summary>Infers the output shape, builds the module when building, and records the resolved layer.</summary>
    public int[] Run()
    {
        var output = Kind.Infer(this);
        if (_compiler.Rng is not null)
        {
            Module = Kind.Create(this);
            _compiler.Created?.Invoke(Module);
        }
        Resolved = new LayerSpec(Layer.Type, _args, _children);
        return output;
    }
}
