using NormNet.Models;
using Microsoft.ML.OnnxRuntime;
using NormNet.Deployment;
using NormNet.Layers;
using Onnx;
using Xunit.Abstractions;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Deployment;

/// <summary>ONNX export checked in ONNX Runtime: every built-in architecture, with and without batch norm, folded and
/// not, gives NormNet's eval outputs; graph structure, unsupported layers and corrupt files.</summary>
[Collection(TrainedModelsCollection.Name)]
public sealed class OnnxExportTests(TrainedModels models, ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-onnx-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Runs an ONNX model in ONNX Runtime on one input and returns the output's values and shape.</summary>
    internal static (float[] Values, long[] Shape) RunOnnx(byte[] onnx, Tensor input)
    {
        using var session = new InferenceSession(onnx);
        using var value = OrtValue.CreateTensorValueFromMemory(input.ToArray(), input.Shape.Select(d => (long)d).ToArray());
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [OnnxExporter.InputName], [value], [OnnxExporter.OutputName]);
        var result = results[0];
        return (result.GetTensorDataAsSpan<float>().ToArray(), result.GetTensorTypeAndShape().Shape);
    }

    [Theory]
    [MemberData(nameof(TrainedModels.All), MemberType = typeof(TrainedModels))]
    public void OnnxRuntime_GivesNormNetsEvalOutputs(string name, bool batchNorm)
    {
        var model = models.Get(name, batchNorm);
        var x = models.TestBatch(name);
        var expected = model.Forward(x).ToArray();
        foreach (bool fold in new[] { false, true })
        {
            string path = Path.Combine(_dir, $"{name}-{batchNorm}-{fold}.onnx");
            OnnxExporter.Export(model, Architectures.InputShapeOf(name), path, fold);
            var (actual, shape) = RunOnnx(File.ReadAllBytes(path), x);
            Assert.Equal([16L, 10L], shape);
            AssertClose(expected, actual, 1e-4, $"{name} bn={batchNorm} fold={fold}");
            double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max() / MaxAbs(expected);
            output.WriteLine($"{name} bn={batchNorm} fold={fold}: ORT vs NormNet, max |diff| / output scale = {worst:G3}");

            var info = OnnxModelInfo.Read(path);
            Assert.Equal(batchNorm && !fold, info.Operators.Contains("BatchNormalization"));
        }
        Assert.False(model.Training); // export does not change the mode
    }

    [Fact]
    public void Graph_HasASymbolicBatch_StateDictNames_AndOnnxMomentum()
    {
        var model = models.Get("cnn", batchNorm: true);
        var proto = ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(model, [1, 28, 28]));
        Assert.Equal(OnnxExporter.IrVersion, proto.IrVersion);
        Assert.Equal(OnnxExporter.OpsetVersion, Assert.Single(proto.OpsetImport).Version);
        var input = Assert.Single(proto.Graph.Input);
        Assert.Equal(["N", "1", "28", "28"], input.Type.TensorType.Shape.Dim.Select(d => d.DimParam.Length > 0 ? d.DimParam : d.DimValue.ToString()));
        var outputShape = Assert.Single(proto.Graph.Output).Type.TensorType.Shape.Dim;
        Assert.Equal("N", outputShape[0].DimParam);
        Assert.Equal(10, outputShape[1].DimValue);
        Assert.Equal(
            ["Conv", "BatchNormalization", "Relu", "MaxPool", "Conv", "BatchNormalization", "Relu", "MaxPool", "Flatten", "Gemm", "BatchNormalization", "Relu", "Gemm"],
            proto.Graph.Node.Select(n => n.OpType));
        // initializers carry the state-dict names; num_batches_tracked is not needed for inference
        var stateNames = model.StateEntries().Where(e => e.Tensor is not null).Select(e => e.Name);
        Assert.Equal(stateNames, proto.Graph.Initializer.Select(t => t.Name));
        var bn = proto.Graph.Node.First(n => n.OpType == "BatchNormalization");
        Assert.Equal(0.9f, bn.Attribute.Single(a => a.Name == "momentum").F, 6); // 1 - PyTorch's 0.1
        Assert.Equal(1e-5f, bn.Attribute.Single(a => a.Name == "epsilon").F);
        Assert.Equal("output", proto.Graph.Node[^1].Output[0]);
    }

    [Fact]
    public void ChannelAffine_AvgPoolPadding_AndDropout_Export()
    {
        // BN without a preceding layer, average pooling with padding (count_include_pad), dropout omitted, a model that
        // ends in the identity (its output comes from an Identity node)
        var rng = new Rng(9);
        var model = new Sequential(new BatchNorm2d(2), new AvgPool2d(3, 2, 1), new ChannelAffine([2f, -1f], [0.5f, 0.25f]),
            new Residual(new Sequential(new MaxPool2d(3, 1, 1), new Tanh())), new GlobalAvgPool2d(), new Sigmoid(),
            new Linear(2, 3, bias: false, rng: rng), new BatchNorm1d(3), new Dropout(0.5, rng));
        RandomizeState(model, seed: 40);
        model.Eval();
        var x = Tensor.FromArray(RandomNormal(5 * 2 * 7 * 7, 41), 5, 2, 7, 7);
        var expected = model.Forward(x).ToArray();
        foreach (bool fold in new[] { false, true })
        {
            var bytes = OnnxExporter.ToBytes(model, [2, 7, 7], fold);
            var (actual, shape) = RunOnnx(bytes, x);
            Assert.Equal([5L, 3L], shape);
            AssertClose(expected, actual, 1e-5, $"mixed model fold={fold}");
        }
        var identity = new Sequential(new Dropout(0.1, rng));
        var (values, _) = RunOnnx(OnnxExporter.ToBytes(identity, [4]), Tensor.FromArray([1f, 2f, 3f, 4f], 1, 4));
        Assert.Equal([1f, 2f, 3f, 4f], values);
    }

    private sealed class Custom : Module
    {
        public override Tensor Forward(Tensor input) => input;
        public override Tensor Backward(Tensor gradOutput) => gradOutput;
    }

    [Fact]
    public void UnsupportedLayers_AndBadShapes_AreNamed()
    {
        var custom = new Sequential(new Linear(4, 4, rng: new Rng(1)), new Residual(new Sequential(new ReLU(), new Custom())));
        var e = Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(custom, [4]));
        Assert.Contains("Custom at '1.body.1'", e.Message);

        var noStats = new Sequential(new Linear(4, 4, rng: new Rng(1)), new BatchNorm1d(4, trackRunningStats: false));
        Assert.Contains("BatchNorm1d at '1'", Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(noStats, [4])).Message);

        var cnn = models.Get("cnn", batchNorm: false);
        var shape = Assert.Throws<ArgumentException>(() => OnnxExporter.ToBytes(cnn, [784]));
        Assert.Contains("Conv2d at '0' expects input (N, 1, H, W)", shape.Message);
        Assert.Contains("(N, 784)", shape.Message);
        Assert.Throws<ArgumentException>(() => Architectures.InputShapeOf("vgg"));
    }

    [Fact]
    public void CorruptOnnxFiles_GiveClearErrors()
    {
        var good = OnnxExporter.ToBytes(models.Get("mlp-sigmoid", batchNorm: true), [784]);
        Assert.Contains("(N, 784)", OnnxModelInfo.Parse(good, "good").ToString());

        string garbage = Path.Combine(_dir, "garbage.onnx");
        File.WriteAllBytes(garbage, Enumerable.Range(0, 1000).Select(i => (byte)(i * 7919 % 251)).ToArray());
        var e = Assert.Throws<InvalidDataException>(() => OnnxModelInfo.Read(garbage));
        Assert.StartsWith($"{garbage}: not an ONNX model", e.Message);
        Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(garbage));

        string truncated = Path.Combine(_dir, "truncated.onnx");
        File.WriteAllBytes(truncated, good[..(good.Length / 2)]);
        Assert.StartsWith($"{truncated}: not an ONNX model", Assert.Throws<InvalidDataException>(() => OnnxModelInfo.Read(truncated)).Message);

        string text = Path.Combine(_dir, "text.onnx");
        File.WriteAllText(text, "this is not a model");
        Assert.StartsWith($"{text}: not an ONNX model", Assert.Throws<InvalidDataException>(() => OnnxModelInfo.Read(text)).Message);
        Assert.Throws<FileNotFoundException>(() => OnnxModelInfo.Read(Path.Combine(_dir, "missing.onnx")));
    }
}
