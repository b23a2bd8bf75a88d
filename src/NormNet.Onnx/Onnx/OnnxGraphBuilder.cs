using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace NormNet.Deployment;

/// <summary>Collects the nodes and initializers of an ONNX graph (the generated <c>onnx.proto</c> classes), keeping
/// value names unique and readable: a node of the layer at state-dict path <c>3.body.0</c> is <c>3.body.0/Conv</c>.</summary>
internal sealed class OnnxGraphBuilder
{
    private readonly HashSet<string> _names = [];

    public GraphProto Graph { get; } = new() { Name = "normnet" };

    /// <summary>Reserves a graph input's name.</summary>
    public void Reserve(string name)
    {
        if (!_names.Add(name)) throw new InvalidOperationException($"ONNX value name '{name}' is already used.");
    }

    /// <summary>Adds a float32 initializer (constant) and returns its name, <paramref name="name"/> if still free.</summary>
    /// <exception cref="ArgumentException">A value is NaN or infinite: a broken model is never written out.</exception>
    public string AddInitializer(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw_data is little-endian; big-endian machines are not supported.");
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"ONNX export: '{name}' holds {values[i]} at element {i}, expected finite values; refusing to export a broken model.", nameof(values));
        var tensor = new TensorProto
        {
            Name = Unique(name),
            DataType = (int)TensorProto.Types.DataType.Float,
            RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values)),
        };
        tensor.Dims.AddRange(dims);
        Graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds a one-dimensional int64 initializer (e.g. a Reshape target) and returns its name.</summary>
    public string AddInt64Initializer(string name, params long[] values)
    {
        var tensor = new TensorProto { Name = Unique(name), DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        Graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    /// <param name="opType">The ONNX operator, e.g. "Conv".</param>
    /// <param name="path">The state-dict path of the layer it comes from ("" for the root).</param>
    /// <param name="inputs">Input value names.</param>
    /// <param name="attributes">The operator's attributes.</param>
    public string AddNode(string opType, string path, string[] inputs, params AttributeProto[] attributes)
    {
        string baseName = path.Length == 0 ? opType : $"{path}/{opType}";
        string output = Unique(baseName);
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return node.Output[0];
    }

    /// <summary>Makes <paramref name="value"/> available under <paramref name="name"/>: renames the producing node's output
    /// when the value is the last node's output, else adds an Identity node.</summary>
    public void NameOutput(string value, string name)
    {
        if (value == name) return;
        var last = Graph.Node.Count > 0 ? Graph.Node[^1] : null;
        if (last is not null && last.Output[0] == value && !_names.Contains(name))
        {
            last.Output[0] = name;
            _names.Add(name);
            return;
        }
        Reserve(name);
        var identity = new NodeProto { OpType = "Identity", Name = name };
        identity.Input.Add(value);
        identity.Output.Add(name);
        Graph.Node.Add(identity);
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>A float tensor value description; a null dimension is the symbolic batch size "N".</summary>
    public static ValueInfoProto TensorInfo(string name, IEnumerable<long?> dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is { } v ? new TensorShapeProto.Types.Dimension { DimValue = v } : new TensorShapeProto.Types.Dimension { DimParam = "N" });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    private string Unique(string name)
    {
        string candidate = name;
        for (int k = 2; _names.Contains(candidate); k++) candidate = $"{name}_{k}";
        _names.Add(candidate);
        return candidate;
    }
}
