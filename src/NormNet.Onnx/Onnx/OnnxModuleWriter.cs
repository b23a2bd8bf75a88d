using System.Globalization;
using NormNet.Kernels;
using NormNet.Layers;
using Onnx;
using static NormNet.Deployment.OnnxGraphBuilder;

namespace NormNet.Deployment;

/// <summary>Writes each supported layer as ONNX nodes (inference semantics, as in eval mode) and follows the shape of
/// the value through the network, so a layer that cannot take its input fails at export with the layer named.</summary>
/// <remarks>Shapes are NormNet's, with dimension 0 the batch (written as the symbolic "N"); initializers are named by
/// the state-dict names of the tensors they hold.</remarks>
internal sealed class OnnxModuleWriter(OnnxGraphBuilder graph)
{
    /// <summary>Writes <paramref name="module"/> applied to value <paramref name="x"/> of shape <paramref name="shape"/>;
    /// returns the output value and its shape.</summary>
    public (string Value, int[] Shape) Write(Module module, string path, string x, int[] shape)
    {
        switch (module)
        {
            case Sequential sequential:
                foreach (var (name, child) in sequential.Children())
                    (x, shape) = Write(child, BatchNormFolding.Join(path, name), x, shape);
                return (x, shape);
            case Residual residual:
                return WriteResidual(residual, path, x, shape);
            case Linear linear:
                return WriteLinear(linear, path, x, shape);
            case Conv2d conv:
                return WriteConv(conv, path, x, shape);
            case BatchNormBase bn:
                return WriteBatchNorm(bn, path, x, shape);
            case ChannelAffine affine:
                return WriteChannelAffine(affine, path, x, shape);
            case ReLU:
                return (graph.AddNode("Relu", path, [x]), shape);
            case Sigmoid:
                return (graph.AddNode("Sigmoid", path, [x]), shape);
            case Tanh:
                return (graph.AddNode("Tanh", path, [x]), shape);
            case Dropout:
                return (x, shape); // the identity at inference
            case MaxPool2d or AvgPool2d:
                return WritePool((Pool2d)module, path, x, shape);
            case GlobalAvgPool2d:
                Expect(shape.Length == 4, module, path, shape, "(N, C, H, W)");
                string pooled = graph.AddNode("GlobalAveragePool", path, [x]);
                return (graph.AddNode("Flatten", path, [pooled], Int("axis", 1)), [shape[0], shape[1]]);
            case Flatten:
                Expect(shape.Length >= 1, module, path, shape, "(N, ...)");
                return (graph.AddNode("Flatten", path, [x], Int("axis", 1)), [shape[0], Product(shape.AsSpan(1))]);
            default:
                throw new NotSupportedException(
                    $"ONNX export does not support {BatchNormFolding.Describe(module, path)}; supported: Sequential, Residual, Linear, Conv2d, " +
                    "BatchNorm1d/2d/3d, ChannelAffine, ReLU, Sigmoid, Tanh, MaxPool2d, AvgPool2d, GlobalAvgPool2d, Flatten, Dropout.");
        }
    }

    private (string, int[]) WriteResidual(Residual residual, string path, string x, int[] shape)
    {
        var (body, bodyShape) = Write(residual.Body, BatchNormFolding.Join(path, "body"), x, shape);
        var (shortcut, shortcutShape) = residual.Shortcut is null
            ? (x, shape)
            : Write(residual.Shortcut, BatchNormFolding.Join(path, "shortcut"), x, shape);
        if (!bodyShape.AsSpan().SequenceEqual(shortcutShape))
            throw new ArgumentException(
                $"{BatchNormFolding.Describe(residual, path)}: body output {Format(bodyShape)} and shortcut output {Format(shortcutShape)} differ.");
        // y = body(x) + shortcut(x)
        return (graph.AddNode("Add", path, [body, shortcut]), bodyShape);
    }

    private (string, int[]) WriteLinear(Linear linear, string path, string x, int[] shape)
    {
        Expect(shape.Length == 2 && shape[1] == linear.InFeatures, linear, path, shape, $"(N, {linear.InFeatures})");
        // y = x W^T + b
        var inputs = new List<string> { x, Parameter(path, "weight", linear.Weight.Value) };
        if (linear.Bias is not null) inputs.Add(Parameter(path, "bias", linear.Bias.Value));
        return (graph.AddNode("Gemm", path, [.. inputs], Int("transB", 1)), [shape[0], linear.OutFeatures]);
    }

    private (string, int[]) WriteConv(Conv2d conv, string path, string x, int[] shape)
    {
        Expect(shape.Length == 4 && shape[1] == conv.InChannels, conv, path, shape, $"(N, {conv.InChannels}, H, W)");
        var g = Geometry(conv, path, shape, conv.KernelSize, conv.Stride, conv.Padding);
        var inputs = new List<string> { x, Parameter(path, "weight", conv.Weight.Value) };
        if (conv.Bias is not null) inputs.Add(Parameter(path, "bias", conv.Bias.Value));
        string y = graph.AddNode("Conv", path, [.. inputs],
            Ints("kernel_shape", conv.KernelSize, conv.KernelSize), Ints("strides", conv.Stride, conv.Stride),
            Ints("pads", conv.Padding, conv.Padding, conv.Padding, conv.Padding), Ints("dilations", 1, 1), Int("group", 1));
        return (y, [shape[0], conv.OutChannels, g.OutH, g.OutW]);
    }

    private (string, int[]) WritePool(Pool2d pool, string path, string x, int[] shape)
    {
        Expect(shape.Length == 4, pool, path, shape, "(N, C, H, W)");
        var g = Geometry(pool, path, shape, pool.KernelSize, pool.Stride, pool.Padding);
        var attributes = new List<AttributeProto>
        {
            Ints("kernel_shape", pool.KernelSize, pool.KernelSize), Ints("strides", pool.Stride, pool.Stride),
            Ints("pads", pool.Padding, pool.Padding, pool.Padding, pool.Padding), Int("ceil_mode", 0),
        };
        // PyTorch's AvgPool2d default count_include_pad=True: padded zeros count in the divisor
        if (pool is AvgPool2d) attributes.Add(Int("count_include_pad", 1));
        string y = graph.AddNode(pool is MaxPool2d ? "MaxPool" : "AveragePool", path, [x], [.. attributes]);
        return (y, [shape[0], shape[1], g.OutH, g.OutW]);
    }

    /// <summary>BatchNormalization in inference mode: y = (x - mean) / sqrt(var + epsilon) * scale + B.</summary>
    private (string, int[]) WriteBatchNorm(BatchNormBase bn, string path, string x, int[] shape)
    {
        if (!bn.TrackRunningStats)
            throw new NotSupportedException(
                $"ONNX export does not support {BatchNormFolding.Describe(bn, path)} with trackRunningStats = false: it normalizes with batch " +
                "statistics even in eval mode, and only the inference graph (fixed mean and variance) is exported.");
        if (bn is BatchNorm2d { MemoryFormat: MemoryFormat.ChannelsLast })
            throw new NotSupportedException($"ONNX export does not support channels-last {BatchNormFolding.Describe(bn, path)}: ONNX tensors are channels-first.");
        var (ranks, layout) = bn switch
        {
            BatchNorm1d => (new[] { 2, 3 }, "(N, C) or (N, C, L)"),
            BatchNorm2d => ([4], "(N, C, H, W)"),
            _ => (new[] { 5 }, "(N, C, D, H, W)"),
        };
        Expect(ranks.Contains(shape.Length) && shape[1] == bn.NumFeatures, bn, path, shape, layout.Replace("C", bn.NumFeatures.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        int c = bn.NumFeatures;
        string scale = bn.Weight is null ? graph.AddInitializer($"{path}.unit_weight", Enumerable.Repeat(1f, c).ToArray(), c) : Parameter(path, "weight", bn.Weight.Value);
        string shift = bn.Bias is null ? graph.AddInitializer($"{path}.zero_bias", new float[c], c) : Parameter(path, "bias", bn.Bias.Value);
        string mean = Parameter(path, "running_mean", bn.RunningMean!);
        var runningVar = bn.RunningVar!.ReadOnlySpan;
        for (int i = 0; i < runningVar.Length; i++)
            if (runningVar[i] < 0)
                throw new ArgumentException($"ONNX export: '{BatchNormFolding.Join(path, "running_var")}' holds {runningVar[i]} at element {i}, expected a non-negative variance; refusing to export a broken model.");
        string variance = Parameter(path, "running_var", bn.RunningVar!);
        // ONNX momentum is the weight of the OLD running value (1 - PyTorch's); it only matters in training mode, which
        // is not exported. A cumulative average (momentum null) has no ONNX equivalent: ONNX's default 0.9 is written.
        float momentum = bn.Momentum is { } m ? (float)(1 - m) : 0.9f;
        string y = graph.AddNode("BatchNormalization", path, [x, scale, shift, mean, variance],
            Float("epsilon", (float)bn.Eps), Float("momentum", momentum));
        return (y, shape);
    }

    /// <summary>y = x * scale + shift with (C, 1, ..., 1) constants that broadcast over (N, C, ...).</summary>
    private (string, int[]) WriteChannelAffine(ChannelAffine affine, string path, string x, int[] shape)
    {
        Expect(shape.Length >= 2 && shape[1] == affine.Channels, affine, path, shape, $"(N, {affine.Channels}, ...)");
        var dims = new long[shape.Length - 1];
        Array.Fill(dims, 1L);
        dims[0] = affine.Channels;
        string scale = graph.AddInitializer(BatchNormFolding.Join(path, "scale"), affine.Scale.Value.ReadOnlySpan, dims);
        string shift = graph.AddInitializer(BatchNormFolding.Join(path, "shift"), affine.Shift.Value.ReadOnlySpan, dims);
        string scaled = graph.AddNode("Mul", path, [x, scale]);
        return (graph.AddNode("Add", path, [scaled, shift]), shape);
    }

    private string Parameter(string path, string name, Tensor value) =>
        graph.AddInitializer(BatchNormFolding.Join(path, name), value.ReadOnlySpan, [.. value.Shape.Select(d => (long)d)]);

    private static ConvGeometry Geometry(Module layer, string path, int[] shape, int kernel, int stride, int padding)
    {
        var g = new ConvGeometry(1, shape[1], shape[2], shape[3], kernel, kernel, stride, padding);
        g.Validate($"ONNX export: {BatchNormFolding.Describe(layer, path)} on input {Format(shape)}");
        return g;
    }

    private static void Expect(bool ok, Module layer, string path, int[] shape, string expected)
    {
        if (!ok)
            throw new ArgumentException(
                $"ONNX export: {BatchNormFolding.Describe(layer, path)} expects input {expected}, but with the given input shape it gets {Format(shape)}.");
    }

    private static int Product(ReadOnlySpan<int> dims)
    {
        long p = 1;
        foreach (int d in dims) p *= d;
        return checked((int)p);
    }

    /// <summary>A shape with the batch written as N, e.g. (N, 1, 28, 28).</summary>
    internal static string Format(int[] shape) =>
        "(" + string.Join(", ", shape.Select((d, i) => i == 0 ? "N" : d.ToString(CultureInfo.InvariantCulture))) + (shape.Length == 1 ? ",)" : ")");
}
