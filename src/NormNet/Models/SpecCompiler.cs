using NormNet.Layers;

namespace NormNet.Models;

/// <summary>Walks a network description from its input shape: checks that every layer fits the shape before it, fills
/// in the inferred sizes, and (given a generator) builds the modules in file order, so that the generator's draws are
/// those of writing the same constructors by hand.</summary>
internal sealed class SpecCompiler(string source, int outputs, Rng? rng, Action<Module>? created)
{
    /// <summary>The file or other source named in errors.</summary>
    public string Source => source;

    /// <summary>The data's outputs, the value of <c>"$outputs"</c>.</summary>
    public int Outputs => outputs;

    /// <summary>The generator for initial weights; null to infer shapes without building.</summary>
    public Rng? Rng => rng;

    /// <summary>Called on every module right after it is created.</summary>
    public Action<Module>? Created => created;

    /// <summary>The elements of every layer's output for one sample, summed over the layers walked so far (containers'
    /// layers included): what a forward pass keeps per sample, for memory estimates.</summary>
    public long ActivationElements { get; private set; }

    /// <summary>Resolves (and builds) a list of layers whose path is <paramref name="listPath"/> (e.g. <c>layers</c>).</summary>
    public (IReadOnlyList<LayerSpec> Resolved, Module[] Modules, int[] Output) WalkList(IReadOnlyList<LayerSpec> layers, string listPath, int[] input)
    {
        var resolved = new LayerSpec[layers.Count];
        var modules = new List<Module>(layers.Count);
        var shape = input;
        for (int i = 0; i < layers.Count; i++)
        {
            var context = new LayerContext(this, layers[i], $"{listPath}[{i}]", shape);
            shape = context.Run();
            ActivationElements += shape.Aggregate(1L, (a, d) => a * d);
            resolved[i] = context.Resolved!;
            if (context.Module is { } m) modules.Add(m);
        }
        return (resolved, [.. modules], shape);
    }
}
