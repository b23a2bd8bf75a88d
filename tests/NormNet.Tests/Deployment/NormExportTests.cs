using NormNet.Deployment;
using NormNet.Layers;
using Onnx;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Deployment;

/// <summary>ONNX export of GroupNorm, LayerNorm, InstanceNorm, FrozenBatchNorm2d and BatchRenorm checked in ONNX
/// Runtime against NormNet's eval outputs; folding of the fixed ones and refusal of the per-sample ones.</summary>
public sealed class NormExportTests
{
    private static Module Prepare(Module model, int seed, int[] inputShape, int warmup = 3)
    {
        RandomizeState(model, seed);
        // a few training forwards move any running statistics away from their initial values
        for (int i = 0; i < warmup; i++)
            model.Forward(Tensor.FromArray(RandomNormal(4 * inputShape.Aggregate(1, (a, b) => a * b), seed + 100 + i, 0.5, 2), [4, .. inputShape]));
        model.Eval();
        return model;
    }

    private static void CheckInOnnxRuntime(Module model, int[] inputShape, bool fold, string what, params string[] expectedOperators)
    {
        var x = Tensor.FromArray(RandomNormal(5 * inputShape.Aggregate(1, (a, b) => a * b), 77, 0.3, 1.5), [5, .. inputShape]);
        var expected = model.Forward(x).ToArray();
        var bytes = OnnxExporter.ToBytes(model, inputShape, fold);
        var (actual, shape) = OnnxExportTests.RunOnnx(bytes, x);
        Assert.Equal(5, shape[0]);
        AssertClose(expected, actual, 1e-4, $"{what} fold={fold}", floor: 1e-2 * MaxAbs(expected));
        var ops = ModelProto.Parser.ParseFrom(bytes).Graph.Node.Select(n => n.OpType).ToHashSet();
        foreach (var op in expectedOperators) Assert.Contains(op, ops);
        Assert.Equal(OnnxExporter.OpsetVersion, ModelProto.Parser.ParseFrom(bytes).OpsetImport.Single().Version);
    }

    [Fact]
    public void GroupNorm_LayerNorm_InstanceNorm_RunInOnnxRuntime()
    {
        var cnn = new Sequential(
            new Conv2d(2, 4, 3, padding: 1, rng: new Rng(1)), new GroupNorm(2, 4), new ReLU(),
            new Conv2d(4, 6, 3, rng: new Rng(2)), new InstanceNorm2d(6, affine: true), new ReLU(),
            new GroupNorm(3, 6, affine: false), new LayerNorm([6, 4, 4]),
            new Flatten(), new Linear(96, 10, rng: new Rng(3)), new LayerNorm(10));
        CheckInOnnxRuntime(Prepare(cnn, 5, [2, 6, 6]), [2, 6, 6], fold: false, "cnn",
            "Reshape", "InstanceNormalization", "ReduceMean", "Sqrt", "Div");

        var sequence = new Sequential(new InstanceNorm1d(3), new LayerNorm(7, bias: false), new GroupNorm(1, 3), new LayerNorm([3, 7], elementwiseAffine: false));
        CheckInOnnxRuntime(Prepare(sequence, 6, [3, 7]), [3, 7], fold: false, "sequence", "InstanceNormalization", "Reshape");
    }

    [Fact]
    public void FixedNorms_ExportAsBatchNormalization_AndFold()
    {
        var model = new Sequential(
            new Conv2d(2, 4, 3, padding: 1, bias: false, rng: new Rng(1)), new FrozenBatchNorm2d(4), new ReLU(),
            new Conv2d(4, 4, 3, rng: new Rng(2)), new BatchRenorm2d(4, rMax: 1.5, dMax: 0.5), new InstanceNorm2d(4, affine: true, trackRunningStats: true),
            new Flatten(), new Linear(64, 5, rng: new Rng(3)), new BatchRenorm1d(5), new BatchNorm1d(5, virtualBatchSize: 2));
        Prepare(model, 8, [2, 6, 6]);
        CheckInOnnxRuntime(model, [2, 6, 6], fold: false, "fixed", "BatchNormalization");
        CheckInOnnxRuntime(model, [2, 6, 6], fold: true, "fixed", "Conv", "Gemm");

        var folded = BatchNormFolding.Fold(model);
        Assert.DoesNotContain(folded.NamedModules(), m => m.Module is BatchNormBase or FrozenBatchNorm2d or BatchRenormBase or InstanceNormBase);
        // Conv+Frozen, Conv+Renorm and Linear+Renorm fold; the tracked InstanceNorm and the trailing BN become ChannelAffine
        Assert.Equal(2, folded.NamedModules().Count(m => m.Module is ChannelAffine));
        var x = Tensor.FromArray(RandomNormal(3 * 72, 9), 3, 2, 6, 6);
        AssertClose(model.Forward(x).ToArray(), folded.Forward(x).ToArray(), 1e-5, "folded vs eval");
        Assert.Contains("BatchNormalization", ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(model, [2, 6, 6])).Graph.Node.Select(n => n.OpType));
        Assert.DoesNotContain("BatchNormalization", ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(model, [2, 6, 6], fold: true)).Graph.Node.Select(n => n.OpType));
    }

    [Theory]
    [InlineData("group")]
    [InlineData("layer")]
    [InlineData("instance")]
    public void Folding_RefusesPerSampleNorms_NamingTheLayer(string kind)
    {
        Module norm = kind switch { "group" => new GroupNorm(2, 4), "layer" => new LayerNorm([4, 5, 5]), _ => new InstanceNorm2d(4) };
        var model = new Sequential(new Conv2d(1, 4, 3, padding: 1, rng: new Rng(1)), norm);
        model.Eval();
        var e = Assert.Throws<NotSupportedException>(() => BatchNormFolding.Fold(model));
        Assert.Contains($"{norm.GetType().Name} at '1'", e.Message);
        Assert.Contains("own statistics", e.Message);
        Assert.Throws<NotSupportedException>(() => OnnxExporter.ToBytes(model, [1, 5, 5], fold: true));
        Assert.NotEmpty(OnnxExporter.ToBytes(model, [1, 5, 5])); // unfolded export supports it
    }

    [Fact]
    public void BadShapes_AreNamed()
    {
        var e = Assert.Throws<ArgumentException>(() => OnnxExporter.ToBytes(new Sequential(new LayerNorm(6)), [5]));
        Assert.Contains("LayerNorm at '0'", e.Message);
        e = Assert.Throws<ArgumentException>(() => OnnxExporter.ToBytes(new Sequential(new GroupNorm(2, 4)), [6, 3]));
        Assert.Contains("(N, 4, *)", e.Message);
    }
}
