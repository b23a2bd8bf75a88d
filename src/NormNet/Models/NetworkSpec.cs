using NormNet.Layers;
using NormNet.Serialization;

namespace NormNet.Models;

/// <summary>
/// A network description: a JSON model file listing layers by their PyTorch names and arguments, with
/// <c>Sequential</c> and <c>Residual</c> nesting (docs/model-files.md):
/// <code>{"layers": [{"type": "Conv2d", "out_channels": 32, "kernel_size": 3, "padding": 1}, {"type": "BatchNorm2d"},
///             {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"},
///             {"type": "Linear", "out_features": "$outputs"}]}</code>
/// </summary>
/// <remarks>
/// <para>Input sizes (<c>in_features</c>, <c>in_channels</c>, <c>num_features</c>) are inferred from the per-sample input
/// shape, or checked when given; <c>"$outputs"</c> stands for the data's number of outputs (classes or targets).</para>
/// <para>Every error is a <see cref="InvalidDataException"/> whose one-line message names the source, the layer by path
/// and type, and what was expected and found. <see cref="Build"/> checks the whole network before it creates any
/// layer, so a description that does not fit the data fails before training, never during it.</para>
/// <para>Immutable; compares by value (<see cref="Source"/> aside).</para>
/// </remarks>
public sealed class NetworkSpec : IEquatable<NetworkSpec>
{
    /// <summary>The format version written as <c>"version"</c>; a file without one is read as this version.</summary>
    public const int FormatVersion = 1;

    internal NetworkSpec(IReadOnlyList<LayerSpec> layers, string source)
    {
        Layers = layers;
        Source = source;
    }

    /// <summary>The top-level layers, applied in order.</summary>
    public IReadOnlyList<LayerSpec> Layers { get; }

    /// <summary>Where the description came from (a file path, or a name such as <c>cnn</c>), named in error messages.</summary>
    public string Source { get; }

    /// <summary>Reads a description from JSON text.</summary>
    /// <param name="json">The description.</param>
    /// <param name="source">Named at the start of every error message (usually the file name).</param>
    /// <exception cref="InvalidDataException">Invalid JSON, an unknown layer type or argument, a mistyped or missing argument.</exception>
    public static NetworkSpec Parse(string json, string source)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentException.ThrowIfNullOrEmpty(source);
        return SpecParser.Parse(json, source);
    }

    /// <summary>Reads a description from a file; errors name the path.</summary>
    /// <exception cref="InvalidDataException">See <see cref="Parse"/>.</exception>
    public static NetworkSpec Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return SpecParser.Parse(File.ReadAllText(path), path);
    }

    /// <summary>Describes a built network (a <see cref="Sequential"/> of the layers in the layer table, as
    /// <see cref="Build"/> returns) with every size written out: what a checkpoint stores so that the model can be
    /// rebuilt without knowing which code made it. Building the description gives the same state_dict names and shapes.</summary>
    /// <param name="model">The network.</param>
    /// <param name="source">Named in errors about the description.</param>
    /// <exception cref="NotSupportedException">A layer has no entry in the table; the message names its type and state-dict path.</exception>
    public static NetworkSpec Describe(Module model, string source = "model")
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model is not Sequential sequential)
            throw new ArgumentException($"NetworkSpec.Describe: expected the Sequential that Build returns, got {model.GetType().Name}.", nameof(model));
        return new NetworkSpec(SpecDescriber.Describe(sequential.Children().Select(c => c.Module).ToList(), ""), source);
    }

    /// <summary>The description as JSON, one leaf layer per line; arguments at their defaults are left out.</summary>
    public string ToJson() => SpecWriter.Network(this);

    /// <summary>Writes <see cref="ToJson"/> to a file, atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    /// <summary>The per-sample output shape for a per-sample input shape, by shape inference alone (nothing is built,
    /// and the output is not compared with <paramref name="outputs"/>).</summary>
    /// <param name="inputShape">One sample's shape without the batch: <c>[784]</c>, <c>[3, 32, 32]</c>.</param>
    /// <param name="outputs">The value of <c>"$outputs"</c>.</param>
    /// <exception cref="InvalidDataException">A layer does not fit the shape before it.</exception>
    public int[] OutputShape(int[] inputShape, int outputs) => Walk(inputShape, outputs).Output;

    /// <summary>The description with every inferred size filled in and <c>"$outputs"</c> replaced, after checking that
    /// the network fits the input shape and ends in <c>(outputs)</c>; equal to <see cref="Describe"/> of what
    /// <see cref="Build"/> returns.</summary>
    /// <exception cref="InvalidDataException">A layer does not fit, or the output is not (outputs).</exception>
    public NetworkSpec Resolve(int[] inputShape, int outputs)
    {
        var (resolved, output) = Walk(inputShape, outputs);
        if (output is not [var n] || n != outputs)
            throw new InvalidDataException(
                $"{Source}: the network's output per sample is {Tensor.Format(output)}, expected ({outputs},) for the data's {outputs} outputs; " +
                $"end with a layer that gives them, e.g. {{\"type\": \"Linear\", \"out_features\": \"{ArgDef.Outputs}\"}}");
        return new NetworkSpec(resolved, Source);
    }

    /// <summary>Checks the whole network (<see cref="Resolve"/>), then builds it, drawing initial weights from
    /// <paramref name="rng"/> layer by layer in file order (the draws of writing the same constructors by hand).</summary>
    /// <param name="inputShape">One sample's shape without the batch: <c>[784]</c>, <c>[3, 32, 32]</c>.</param>
    /// <param name="outputs">The data's number of outputs (classes or regression targets): the value of <c>"$outputs"</c>.</param>
    /// <param name="rng">Draws the initial weights (and seeds dropout's generators).</param>
    /// <param name="initialize">Called on every module right after it is created, before the next one is, e.g. to
    /// redraw weights from <paramref name="rng"/>; null keeps PyTorch's default initialization.</param>
    /// <exception cref="InvalidDataException">The network does not fit the input shape or the outputs; nothing is built.</exception>
    public Sequential Build(int[] inputShape, int outputs, Rng rng, Action<Module>? initialize = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var resolved = Resolve(inputShape, outputs);
        var (_, modules, _) = new SpecCompiler(Source, outputs, rng, initialize).WalkList(resolved.Layers, "layers", inputShape);
        return new Sequential(modules);
    }

    /// <summary>The elements of all layer outputs for one sample (each layer's output shape, containers included): a training
    /// step keeps about three floats per element per sample (output, gradient, the next layer's input gradient).</summary>
    /// <exception cref="InvalidDataException">The network does not fit the input shape or the outputs.</exception>
    public long ActivationElementsPerSample(int[] inputShape, int outputs)
    {
        Walk(inputShape, outputs, out long elements);
        return elements;
    }

    private (IReadOnlyList<LayerSpec> Resolved, int[] Output) Walk(int[] inputShape, int outputs) => Walk(inputShape, outputs, out _);

    private (IReadOnlyList<LayerSpec> Resolved, int[] Output) Walk(int[] inputShape, int outputs, out long activations)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        if (inputShape.Length == 0 || inputShape.Any(d => d < 1))
            throw new ArgumentException($"Expected a per-sample input shape such as [784] or [3, 32, 32], every dimension at least 1, got {Tensor.Format(inputShape)}.", nameof(inputShape));
        var compiler = new SpecCompiler(Source, outputs, null, null);
        var (resolved, _, output) = compiler.WalkList(Layers, "layers", [.. inputShape]);
        activations = compiler.ActivationElements;
        return (resolved, output);
    }

    /// <inheritdoc />
    public bool Equals(NetworkSpec? other) => other is not null && Layers.SequenceEqual(other.Layers);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as NetworkSpec);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Layers.Count, Layers.Count > 0 ? Layers[0].GetHashCode() : 0);

    /// <inheritdoc />
    public override string ToString() => ToJson();
}
