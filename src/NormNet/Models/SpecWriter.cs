using System.Text;
using System.Text.Json;

namespace NormNet.Models;

/// <summary>Writes network descriptions as JSON, one leaf layer per line; arguments at their defaults (and sizes
/// still to be inferred) are left out.</summary>
internal static class SpecWriter
{
    /// <summary>The whole file: <c>{"version": 1, "layers": [...]}</c>, indented.</summary>
    public static string Network(NetworkSpec spec)
    {
        var sb = new StringBuilder();
        sb.Append("{\n  \"version\": ").Append(NetworkSpec.FormatVersion).Append(",\n  \"layers\": ");
        List(sb, spec.Layers, indent: 2, multiline: true);
        return sb.Append("\n}\n").ToString();
    }

    /// <summary>One layer on one line.</summary>
    public static string Layer(LayerSpec layer)
    {
        var sb = new StringBuilder();
        Layer(sb, layer, 0, multiline: false);
        return sb.ToString();
    }

    private static void List(StringBuilder sb, IReadOnlyList<LayerSpec> layers, int indent, bool multiline)
    {
        if (layers.Count == 0)
        {
            sb.Append("[]");
            return;
        }
        sb.Append('[');
        for (int i = 0; i < layers.Count; i++)
        {
            if (i > 0) sb.Append(multiline ? "," : ", ");
            if (multiline) sb.Append('\n').Append(' ', indent + 2);
            Layer(sb, layers[i], indent + 2, multiline);
        }
        if (multiline) sb.Append('\n').Append(' ', indent);
        sb.Append(']');
    }

    private static void Layer(StringBuilder sb, LayerSpec layer, int indent, bool multiline)
    {
        var kind = LayerCatalog.Find(layer.Type) ?? throw new InvalidOperationException($"No layer table entry for '{layer.Type}'.");
        sb.Append("{\"type\": ").Append(JsonSerializer.Serialize(layer.Type));
        foreach (var arg in kind.Args)
        {
            var value = layer.Arguments.GetValueOrDefault(arg.Name, arg.Default);
            if (Equals(value, arg.Default)) continue;
            sb.Append(", ").Append(JsonSerializer.Serialize(arg.Name)).Append(": ").Append(ArgDef.Format(value));
        }
        foreach (var child in kind.Children)
        {
            var list = layer.Children.GetValueOrDefault(child.Name) ?? [];
            if (list.Count == 0 && !child.IsRequired) continue;
            sb.Append(", ").Append(JsonSerializer.Serialize(child.Name)).Append(": ");
            List(sb, list, indent, multiline);
        }
        sb.Append('}');
    }
}
