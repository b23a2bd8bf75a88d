using System.Globalization;
using Google.Protobuf;
using Onnx;

namespace NormNet.Deployment;

/// <summary>One graph input or output of an ONNX model: its name and shape, e.g. <c>input (N, 1, 28, 28)</c>.</summary>
/// <param name="Name">The value's name.</param>
/// <param name="Dims">Each dimension: a number, or a symbolic name such as "N" ("?" when unknown).</param>
public sealed record OnnxValueInfo(string Name, IReadOnlyList<string> Dims)
{
    /// <summary>The shape written as <c>(N, 1, 28, 28)</c>.</summary>
    public string Shape => "(" + string.Join(", ", Dims) + (Dims.Count == 1 ? ",)" : ")");

    /// <inheritdoc />
    public override string ToString() => $"{Name} {Shape}";
}

/// <summary>
/// A checked summary of an ONNX model file: versions, inputs, outputs, operators and parameter count; what a command
/// line tool prints after an export, and a quick way to tell an ONNX file from something else.
/// </summary>
public sealed class OnnxModelInfo
{
    private OnnxModelInfo(ModelProto model)
    {
        IrVersion = model.IrVersion;
        OpsetVersion = model.OpsetImport.Where(o => o.Domain.Length == 0 || o.Domain == "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        Producer = $"{model.ProducerName} {model.ProducerVersion}".Trim();
        Inputs = model.Graph.Input.Select(ToInfo).ToList();
        Outputs = model.Graph.Output.Select(ToInfo).ToList();
        Operators = model.Graph.Node.Select(n => n.OpType).ToList();
        ParameterCount = model.Graph.Initializer.Sum(t => t.Dims.Aggregate(1L, (a, d) => a * d));
        Metadata = model.MetadataProps.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value);
    }

    /// <summary>The IR version.</summary>
    public long IrVersion { get; }

    /// <summary>The version of the default (ai.onnx) operator set.</summary>
    public long OpsetVersion { get; }

    /// <summary>The producer name and version, e.g. "NormNet 1.0.0.0".</summary>
    public string Producer { get; }

    /// <summary>The graph inputs (constants stored as initializers are not listed by NormNet's exporter).</summary>
    public IReadOnlyList<OnnxValueInfo> Inputs { get; }

    /// <summary>The graph outputs.</summary>
    public IReadOnlyList<OnnxValueInfo> Outputs { get; }

    /// <summary>The operator of each node, in graph order.</summary>
    public IReadOnlyList<string> Operators { get; }

    /// <summary>The number of values in all initializers (weights, biases, statistics).</summary>
    public long ParameterCount { get; }

    /// <summary>The model's metadata properties.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Reads and checks an ONNX file.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model; the message names the file and says why.</exception>
    public static OnnxModelInfo Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX file not found: {path}", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses and checks the bytes of an ONNX model; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model.</exception>
    public static OnnxModelInfo Parse(byte[] bytes, string source)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(bytes); }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{source}: not an ONNX model: the bytes are not a valid protobuf ModelProto ({e.Message})");
        }
        string? problem = model switch
        {
            _ when bytes.Length == 0 => "the file is empty",
            { HasIrVersion: false } or { IrVersion: <= 0 } => "it has no IR version",
            { OpsetImport.Count: 0 } => "it imports no operator set",
            { Graph: null } => "it has no graph",
            { Graph.Output.Count: 0 } => "its graph has no output",
            _ when model.Graph.Node.Any(n => string.IsNullOrEmpty(n.OpType)) => "a node has no operator type",
            _ => null,
        };
        if (problem is not null) throw new InvalidDataException($"{source}: not an ONNX model: {problem}.");
        return new OnnxModelInfo(model);
    }

    private static OnnxValueInfo ToInfo(ValueInfoProto value)
    {
        var dims = value.Type?.TensorType?.Shape?.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => d.DimValue.ToString(CultureInfo.InvariantCulture),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => d.DimParam,
            _ => "?",
        }).ToList() ?? [];
        return new OnnxValueInfo(value.Name, dims);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"ONNX IR {IrVersion}, opset {OpsetVersion}, {Producer}: {string.Join(", ", Inputs)} -> {string.Join(", ", Outputs)}; " +
        string.Create(CultureInfo.InvariantCulture, $"{Operators.Count} nodes, {ParameterCount:N0} parameters");
}
