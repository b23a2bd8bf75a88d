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
internal sealed partial class OnnxModuleWriter(OnnxGraphBuilder graph)
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
            case ResidualReLU fusedBlock:
                var (summed, sumShape) = WriteResidual(fusedBlock.Block, BatchNormFolding.Join(path, "0"), x, shape);
                return (graph.AddNode("Relu", path, [summed]), sumShape);
            case Linear linear:
                return WriteLinear(linear, path, x, shape);
            case FrozenLinear frozen:
                return WriteFrozenLinear(frozen, path, x, shape);
            case Conv2d conv:
                return WriteConv(conv, path, x, shape);
            case ConvReLU2d fused:
                var (convolved, convShape) = WriteConv(fused.Conv, BatchNormFolding.Join(path, "0"), x, shape);
                return (graph.AddNode("Relu", path, [convolved]), convShape);
            case ConvReLUMaxPool2d fusedPool:
                var (convolvedToPool, activatedShape) = WriteConv(fusedPool.Conv, BatchNormFolding.Join(path, "0"), x, shape);
                return WritePool(fusedPool.Pool, BatchNormFolding.Join(path, "1"), graph.AddNode("Relu", path, [convolvedToPool]), activatedShape);
            case GroupNorm groupNorm:
                return WriteGroupNorm(groupNorm, path, x, shape);
            case LayerNorm layerNorm:
                return WriteLayerNorm(layerNorm, path, x, shape);
            case InstanceNormBase { TrackRunningStats: false } instanceNorm:
                return WriteInstanceNorm(instanceNorm, path, x, shape);
            case BatchNormBase or FrozenBatchNorm2d or BatchRenormBase or InstanceNormBase:
                return WriteBatchNorm(FixedBatchNorm.Of(module, path)!, path, x, shape);
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
                    $"ONNX export does not support {BatchNormFolding.Describe(module, path)}; supported: Sequential, Residual, ResidualReLU, Linear, FrozenLinear, Conv2d, ConvReLU2d, ConvReLUMaxPool2d, " +
                    "BatchNorm1d/2d/3d, FrozenBatchNorm2d, BatchRenorm1d/2d, GroupNorm, LayerNorm, InstanceNorm1d/2d, ChannelAffine, ReLU, Sigmoid, Tanh, MaxPool2d, AvgPool2d, GlobalAvgPool2d, Flatten, Dropout.");
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

    private (string, int[]) WriteFrozenLinear(FrozenLinear linear, string path, string x, int[] shape)
    {
        Expect(shape.Length == 2 && shape[1] == linear.InFeatures, linear, path, shape, $"(N, {linear.InFeatures})");
        // y = x W^T + b, with W^T (in, out) stored
        var inputs = new List<string> { x, Parameter(path, "weight_t", linear.WeightTransposed) };
        if (linear.Bias is not null) inputs.Add(Parameter(path, "bias", linear.Bias));
        return (graph.AddNode("Gemm", path, [.. inputs]), [shape[0], linear.OutFeatures]);
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

    internal string Parameter(string path, string name, Tensor value) =>
        graph.AddInitializer(BatchNormFolding.Join(path, name), value.ReadOnlySpan, [.. value.Shape.Select(d => (long)d)]);

    private static ConvGeometry Geometry(Module layer, string path, int[] shape, int kernel, int stride, int padding)
    {
        var g = new ConvGeometry(1, shape[1], shape[2], shape[3], kernel, kernel, stride, padding);
        g.Validate($"ONNX export: {BatchNormFolding.Describe(layer, path)} on input {Format(shape)}");
        return g;
    }

    internal static void Expect(bool ok, Module layer, string path, int[] shape, string expected)
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
