using System.Text.Json;

namespace NormNet.Models;

/// <summary>Reads a network description from JSON, checking every layer type, argument name and argument value
/// against the layer table (<see cref="LayerCatalog"/>). Comments and trailing commas are allowed.</summary>
internal static class SpecParser
{
    private static readonly JsonDocumentOptions Options = new()
    {
        AllowTrailingCommas = true,
        CommentHandling = JsonCommentHandling.Skip,
        MaxDepth = 256,
    };

    /// <summary>Parses a whole file; errors name <paramref name="source"/>.</summary>
    public static NetworkSpec Parse(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, Options);
        }
        catch (JsonException e)
        {
            string message = e.Message.Split(" LineNumber:")[0];
            throw new InvalidDataException($"{source}: line {e.LineNumber + 1}, position {e.BytePositionInLine + 1}: invalid JSON: {message}", e);
        }
        using (document)
        {
            return new NetworkSpec(ReadRoot(document.RootElement, source), source);
        }
    }

    private static IReadOnlyList<LayerSpec> ReadRoot(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{source}: expected a JSON object {{\"layers\": [...]}}, got {Describe(root)}");
        IReadOnlyList<LayerSpec>? layers = null;
        foreach (var property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "version":
                    if (!(property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt32(out int v) && v == NetworkSpec.FormatVersion))
                        throw new InvalidDataException($"{source}: expected \"version\": {NetworkSpec.FormatVersion}, got {property.Value.GetRawText()}");
                    break;
                case "layers":
                    layers = ReadList(property.Value, "layers", source, $"{source}: \"layers\"");
                    break;
                default:
                    throw new InvalidDataException($"{source}: unknown key '{property.Name}' at the top level; expected \"layers\" (and optionally \"version\")");
            }
        }
        return layers ?? throw new InvalidDataException($"{source}: missing \"layers\", the list of layers");
    }

    private static LayerSpec[] ReadList(JsonElement element, string path, string source, string owner)
    {
        if (element.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{owner}: expected a list of layers [...], got {Describe(element)}");
        var layers = new List<LayerSpec>();
        int i = 0;
        foreach (var item in element.EnumerateArray()) layers.Add(ReadLayer(item, $"{path}[{i++}]", source));
        return [.. layers];
    }

    private static LayerSpec ReadLayer(JsonElement element, string path, string source)
    {
        string where = $"{source}: {path}";
        if (element.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{where}: expected a layer {{\"type\": ...}}, got {Describe(element)}");
        if (!element.TryGetProperty("type", out var typeElement))
            throw new InvalidDataException($"{where}: missing \"type\"; expected one of: {string.Join(", ", LayerCatalog.Names)}");
        if (typeElement.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{where}: expected \"type\" to be a string, got {typeElement.GetRawText()}");
        string type = typeElement.GetString()!;
        var kind = LayerCatalog.Find(type) ?? throw new InvalidDataException(
            $"{where}: unknown layer type '{type}'{Suggest(type, LayerCatalog.Names)}; expected one of: {string.Join(", ", LayerCatalog.Names)}");
        where = $"{where} ({type})";

        var args = new Dictionary<string, object?>();
        var children = new Dictionary<string, IReadOnlyList<LayerSpec>>();
        foreach (var property in element.EnumerateObject())
        {
            string name = property.Name;
            if (name == "type") continue;
            if (args.ContainsKey(name) || children.ContainsKey(name))
                throw new InvalidDataException($"{where}: '{name}' is given twice");
            if (kind.Children.Any(c => c.Name == name))
                children[name] = ReadList(property.Value, $"{path}.{name}", source, $"{where}: '{name}'");
            else
                args[name] = ReadArgument(kind, property, where);
        }
        CheckRequired(kind, args, children, where);
        return LayerSpec.Create(kind, args, children);
    }

    private static object? ReadArgument(LayerKind kind, JsonProperty property, string where)
    {
        var arg = kind.Arg(property.Name);
        if (arg is null)
        {
            var known = kind.Args.Select(a => a.Name).Concat(kind.Children.Select(c => c.Name)).ToArray();
            string expected = known.Length == 0 ? $"{kind.Type} takes no arguments" : $"expected one of: {string.Join(", ", known)}";
            throw new InvalidDataException($"{where}: unknown argument '{property.Name}'{Suggest(property.Name, known)}; {expected}");
        }
        if (!arg.TryRead(property.Value, out var value))
            throw new InvalidDataException($"{where}: argument '{arg.Name}' expected {arg.Expected}, got {property.Value.GetRawText()}");
        return value;
    }

    private static void CheckRequired(LayerKind kind, Dictionary<string, object?> args, Dictionary<string, IReadOnlyList<LayerSpec>> children, string where)
    {
        foreach (var arg in kind.Args)
            if (arg.IsRequired && !args.ContainsKey(arg.Name))
                throw new InvalidDataException($"{where}: missing required argument '{arg.Name}' ({arg.Expected})");
        foreach (var list in kind.Children)
            if (list.IsRequired && !children.ContainsKey(list.Name))
                throw new InvalidDataException($"{where}: missing required '{list.Name}' (a list of layers)");
    }

    /// <summary><c>; did you mean 'ReLU'?</c> when a known name differs only in case, underscores or dashes.</summary>
    private static string Suggest(string given, IEnumerable<string> known)
    {
        static string Key(string s) => s.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToUpperInvariant();
        var match = known.FirstOrDefault(k => Key(k) == Key(given));
        return match is null ? "" : $" (did you mean '{match}'?)";
    }

    private static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => $"the string {element.GetRawText()}",
        JsonValueKind.Number => $"the number {element.GetRawText()}",
        _ => element.GetRawText(),
    };
}
