using NormNet.Layers;

namespace NormNet.Models;

/// <summary>Describes built modules as layers of a network description, through the layer table, with every size
/// written out.</summary>
internal static class SpecDescriber
{
    /// <summary>The layers for <paramref name="modules"/>, children of the module at state-dict path <paramref name="prefix"/>
    /// ("" for the top) named <c>prefix.0</c>, <c>prefix.1</c>, ...</summary>
    public static IReadOnlyList<LayerSpec> Describe(IReadOnlyList<Module> modules, string prefix)
    {
        var layers = new LayerSpec[modules.Count];
        for (int i = 0; i < modules.Count; i++) layers[i] = Describe(modules[i], Join(prefix, i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return layers;
    }

    private static LayerSpec Describe(Module module, string path)
    {
        var kind = LayerCatalog.ForModule(module.GetType()) ?? throw new NotSupportedException(
            $"NetworkSpec.Describe: {module.GetType().Name} at '{path}' has no entry in the layer table; supported: {string.Join(", ", LayerCatalog.Names)}.");
        var values = kind.Describe(module, path);
        if (values.Length != kind.Args.Count)
            throw new InvalidOperationException($"{kind.Type}: the table's description gives {values.Length} values for {kind.Args.Count} arguments.");
        var args = kind.Args.Select((a, i) => (a.Name, Value: values[i])).ToDictionary(a => a.Name, a => a.Value);
        var lists = kind.DescribeChildren(module, path);
        var children = new Dictionary<string, IReadOnlyList<LayerSpec>>();
        for (int j = 0; j < kind.Children.Count; j++)
        {
            // A Sequential's children are its own state-dict entries (3.0); a Residual's lists are the Sequentials
            // "body" and "shortcut" (3.body.0).
            string name = kind.Children[j].Name;
            children[name] = Describe(lists[j], module is Sequential ? path : Join(path, name));
        }
        return LayerSpec.Create(kind, args, children);
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : $"{prefix}.{name}";
}
