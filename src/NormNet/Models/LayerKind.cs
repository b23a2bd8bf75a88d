using NormNet.Layers;

namespace NormNet.Models;

/// <summary>A named list of layers inside a container layer (<c>layers</c> of a Sequential, <c>body</c> and
/// <c>shortcut</c> of a Residual); an optional list left out is empty.</summary>
internal sealed record ChildList(string Name, bool IsRequired);

/// <summary>One entry of the layer table (<see cref="LayerCatalog"/>): how a layer type of a network description is
/// read (its arguments), how its output shape follows from its input shape, how it is built, and how a built layer is
/// described again.</summary>
internal sealed class LayerKind
{
    /// <summary>Creates an entry; see the properties.</summary>
    public LayerKind(string type, Type moduleType, ArgDef[] args, Func<LayerContext, int[]> infer, Func<LayerContext, Module> create,
        Func<Module, string, object?[]> describe, ChildList[]? children = null,
        Func<Module, string, IReadOnlyList<Module>[]>? describeChildren = null)
    {
        Type = type;
        ModuleType = moduleType;
        Args = args;
        Infer = infer;
        Create = create;
        Describe = describe;
        Children = children ?? [];
        DescribeChildren = describeChildren ?? ((_, _) => []);
    }

    /// <summary>The type name in the file (PyTorch's class name).</summary>
    public string Type { get; }

    /// <summary>The module class built, used to describe a built network.</summary>
    public Type ModuleType { get; }

    /// <summary>The arguments, in the order they are written.</summary>
    public IReadOnlyList<ArgDef> Args { get; }

    /// <summary>The nested layer lists, for containers.</summary>
    public IReadOnlyList<ChildList> Children { get; }

    /// <summary>Checks the per-sample input shape, fills in the inferred sizes and returns the per-sample output shape;
    /// throws <see cref="InvalidDataException"/> (via <see cref="LayerContext.Error"/>) when the input does not fit.</summary>
    public Func<LayerContext, int[]> Infer { get; }

    /// <summary>Builds the module from the resolved arguments (after <see cref="Infer"/>, children already built).</summary>
    public Func<LayerContext, Module> Create { get; }

    /// <summary>A built module's argument values, in the order of <see cref="Args"/>; given the module and its state-dict path.</summary>
    public Func<Module, string, object?[]> Describe { get; }

    /// <summary>A built container's children, one list per <see cref="Children"/> entry.</summary>
    public Func<Module, string, IReadOnlyList<Module>[]> DescribeChildren { get; }

    /// <summary>The argument of that name, or null.</summary>
    public ArgDef? Arg(string name) => Args.FirstOrDefault(a => a.Name == name);
}
