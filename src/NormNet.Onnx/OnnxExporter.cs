using Google.Protobuf;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Serialization;
using Onnx;

namespace NormNet.Deployment;

/// <summary>
/// Exports a model's inference graph as ONNX (opset 15, IR version 8), for ONNX Runtime and other runtimes: one input
/// named <c>input</c> and one output named <c>output</c>, both float32 with a symbolic batch dimension <c>N</c>.
/// </summary>
/// <remarks>
/// <para>Layers map to operators as follows: Linear to Gemm (transB = 1); FrozenLinear to Gemm; Conv2d to Conv; ConvReLU2d to Conv then Relu; ConvReLUMaxPool2d to Conv, Relu, MaxPool; BatchNorm1d/2d/3d to
/// BatchNormalization with the running statistics, as are FrozenBatchNorm2d, BatchRenorm1d/2d and InstanceNorm1d/2d
/// with running statistics; InstanceNorm1d/2d without them to InstanceNormalization; GroupNorm to Reshape (N, G, -1),
/// InstanceNormalization, Reshape back, Mul and Add; LayerNorm (LayerNormalization needs opset 17) to ReduceMean, Sub,
/// Mul, ReduceMean, Add, Sqrt, Div, then Mul and Add for its affine; ReLU, Sigmoid, Tanh to the operators of those names; MaxPool2d to
/// MaxPool; AvgPool2d to AveragePool (count_include_pad = 1, PyTorch's default); GlobalAvgPool2d to GlobalAveragePool
/// then Flatten; Flatten to Flatten (axis 1); Dropout to nothing (it is the identity at inference); Residual to Add
/// of body and shortcut; ResidualReLU to that Add then Relu; ChannelAffine to Mul and Add with (C, 1, ..., 1) constants; Sequential to its children in
/// order. Initializers carry the state-dict names (<c>0.weight</c>, <c>1.running_mean</c>).</para>
/// <para>What is exported is what the model computes in eval mode, whatever mode it is in (as
/// <c>torch.onnx.export</c> does by default); the model itself is not changed. BatchNormalization's
/// <c>momentum</c> attribute follows ONNX's convention, the weight of the OLD running value, so PyTorch's and NormNet's
/// momentum 0.1 is written as 0.9; it matters only to a training-mode graph, which is not exported.</para>
/// </remarks>
public static class OnnxExporter
{
    /// <summary>The ONNX operator set the exported graphs use.</summary>
    public const int OpsetVersion = 15;

    /// <summary>The ONNX IR version written (8 is the first that allows opset 15).</summary>
    public const int IrVersion = 8;

    /// <summary>The name of the graph's input.</summary>
    public const string InputName = "input";

    /// <summary>The name of the graph's output.</summary>
    public const string OutputName = "output";

    /// <summary>Writes the model's inference graph to an ONNX file, atomically.</summary>
    /// <param name="model">The network, built from the layers listed on <see cref="OnnxExporter"/>.</param>
    /// <param name="inputShape">The shape of ONE input, without the batch dimension: <c>[784]</c> for a flattened
    /// 28x28 image, <c>[1, 28, 28]</c> for an image with one channel. The exported input is (N, ...that).</param>
    /// <param name="path">The file to write.</param>
    /// <param name="fold">Whether to export the model with batch norm folded into the layers before it
    /// (<see cref="BatchNormFolding"/>): fewer operators, the same outputs up to rounding.</param>
    /// <exception cref="NotSupportedException">A layer cannot be exported; the message names its type and state-dict path.</exception>
    /// <exception cref="ArgumentException">The input shape does not fit the model; the message names the first layer that cannot take it.</exception>
    /// <param name="metadata">Extra entries for the model's <c>metadata_props</c> (e.g. <c>normnet.preprocessing</c>), or null.</param>
    public static void Export(Module model, int[] inputShape, string path, bool fold = false, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.WriteAllBytes(path, ToBytes(model, inputShape, fold, metadata));
    }

    /// <summary>The ONNX model as bytes (a serialized <c>onnx.ModelProto</c>); see <see cref="Export"/>.</summary>
    public static byte[] ToBytes(Module model, int[] inputShape, bool fold = false, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputShape);
        foreach (int d in inputShape)
            if (d < 1)
                throw new ArgumentException($"Expected every dimension of the input shape (without the batch) to be at least 1, got {Tensor.Format(inputShape)}.", nameof(inputShape));
        var exported = fold ? BatchNormFolding.FoldEvalSemantics(model) : model;
        var builder = new OnnxGraphBuilder();
        builder.Reserve(InputName);
        int[] shape = [-1, .. inputShape];
        var (value, outputShape) = new OnnxModuleWriter(builder).Write(exported, "", InputName, shape);
        builder.NameOutput(value, OutputName);
        var graph = builder.Graph;
        graph.Input.Add(OnnxGraphBuilder.TensorInfo(InputName, Batched(shape)));
        graph.Output.Add(OnnxGraphBuilder.TensorInfo(OutputName, Batched(outputShape)));
        string version = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0";
        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "NormNet",
            ProducerVersion = version,
            DocString = $"Inference graph (eval mode{(fold ? ", batch norm folded" : "")}) exported by NormNet {version}. " +
                        "BatchNormalization momentum is ONNX's: the weight of the old running value, 1 - PyTorch's momentum.",
            Graph = graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        proto.MetadataProps.Add(new StringStringEntryProto { Key = "normnet.batch_norm_folded", Value = fold ? "true" : "false" });
        proto.MetadataProps.Add(new StringStringEntryProto { Key = "normnet.input_shape", Value = OnnxModuleWriter.Format(shape) });
        foreach (var entry in metadata ?? new Dictionary<string, string>())
            proto.MetadataProps.Add(new StringStringEntryProto { Key = entry.Key, Value = entry.Value });
        return proto.ToByteArray();
    }

    private static IEnumerable<long?> Batched(int[] shape) => shape.Select((d, i) => i == 0 ? (long?)null : d);
}
