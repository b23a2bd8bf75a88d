using NormNet.Deployment;
using NormNet.Layers;
using NormNet.Models;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Deployment;

/// <summary>The inference model: BN folded, each Conv2d + ReLU fused into a ConvReLU2d (also inside residual blocks), with
/// the 2x2 max pooling after it into a ConvReLUMaxPool2d, each residual block and the ReLU after it into a ResidualReLU, each
/// Linear frozen (W^T kept), the
/// bits of the folded model, the input model untouched, refusal in training mode; and its ONNX export in ONNX Runtime.</summary>
public class InferenceModelTests
{
    [Theory]
    [InlineData("cnn")]
    [InlineData("resnet")]
    public void InferenceModel_FusesEachConvolutionsReLU_AndGivesTheFoldedModelsBits(string arch)
    {
        var model = Architectures.Create(arch, true, new Rng(4));
        RandomizeState(model, 40);
        model.Eval();
        var before = model.StateEntries().Select(e => e.Tensor?.ToArray()).ToList();
        var inference = InferenceModel.Create(model);

        Assert.False(inference.Training);
        Assert.DoesNotContain(inference.NamedModules(), m => m.Module is BatchNormBase);
        int fusedCount = inference.NamedModules().Count(m => m.Module is ConvReLU2d or ConvReLUMaxPool2d);
        int pooledCount = inference.NamedModules().Count(m => m.Module is ConvReLUMaxPool2d);
        int expectedFused = CountConvThenReLU(BatchNormFolding.Fold(model));
        Assert.Equal(CountConvThenReLUThenPool(BatchNormFolding.Fold(model)), pooledCount);
        Assert.Equal(arch == "cnn" ? 2 : 0, pooledCount);
        Assert.True(expectedFused >= 2, $"{arch} has {expectedFused} Conv2d + ReLU pairs after folding");
        Assert.Equal(expectedFused, fusedCount);
        Assert.Equal(0, CountConvThenReLU(inference));
        int blocks = CountResidualThenReLU(BatchNormFolding.Fold(model));
        Assert.Equal(arch == "resnet" ? 3 : 0, blocks);
        Assert.Equal(blocks, inference.NamedModules().Count(m => m.Module is ResidualReLU));
        Assert.Equal(0, CountResidualThenReLU(inference));
        AssertEveryLinearFrozen(BatchNormFolding.Fold(model), inference);
        Assert.Equal(before, model.StateEntries().Select(e => e.Tensor?.ToArray()).ToList());

        var x = Tensor.FromArray(RandomNormal(6 * 28 * 28, 41), 6, 1, 28, 28);
        var folded = BatchNormFolding.Fold(model).Forward(x).ToArray();
        var actual = inference.Forward(x).ToArray();
        Assert.Equal(folded, actual);
        AssertClose(model.Forward(x).ToArray(), actual, 1e-5, $"{arch} inference model vs eval model");

        var (onnx, shape) = OnnxExportTests.RunOnnx(OnnxExporter.ToBytes(inference, [1, 28, 28]), x);
        Assert.Equal([6L, 10L], shape);
        AssertClose(actual, onnx, 1e-5, $"{arch} inference model in ONNX Runtime");
    }

    [Fact]
    public void InferenceModel_RefusesATrainingModel_AndFoldingKeepsAFusedLayer()
    {
        var model = Architectures.Create("cnn", true, new Rng(5));
        var ex = Assert.Throws<InvalidOperationException>(() => InferenceModel.Create(model));
        Assert.Contains("Eval()", ex.Message);
        model.Eval();
        // a model that already holds fused layers folds (and exports) again
        foreach (var net in new[] { model, Architectures.Create("resnet", true, new Rng(5)) })
        {
            net.Eval();
            var inference = InferenceModel.Create(net);
            var again = BatchNormFolding.Fold(inference);
            var x = Tensor.FromArray(RandomNormal(2 * 28 * 28, 6), 2, 1, 28, 28);
            Assert.Equal(inference.Forward(x).ToArray(), again.Forward(x).ToArray());
        }
    }

    [Fact]
    public void InferenceModel_OfAnMlp_FreezesEveryLinear_AndGivesTheFoldedModelsBits()
    {
        var model = Architectures.Create("mlp-sigmoid", true, new Rng(7));
        RandomizeState(model, 70);
        model.Eval();
        var inference = InferenceModel.Create(model);
        AssertEveryLinearFrozen(BatchNormFolding.Fold(model), inference);
        Assert.Empty(inference.NamedParameters()); // a snapshot: buffers only

        foreach (int n in new[] { 1, 7, 150 }) // W^T read in place, and packed past 144 rows
        {
            var x = Tensor.FromArray(RandomNormal(n * 784, 71 + n), n, 784);
            Assert.Equal(BatchNormFolding.Fold(model).Forward(x).ToArray(), inference.Forward(x).ToArray());
        }
        var x7 = Tensor.FromArray(RandomNormal(7 * 784, 78), 7, 784);
        var (onnx, shape) = OnnxExportTests.RunOnnx(OnnxExporter.ToBytes(inference, [784]), x7);
        Assert.Equal([7L, 10L], shape);
        AssertClose(inference.Forward(x7).ToArray(), onnx, 1e-5, "mlp inference model in ONNX Runtime");
    }

    private static void AssertEveryLinearFrozen(Module folded, Module inference)
    {
        int linears = folded.NamedModules().Count(m => m.Module is Linear);
        Assert.True(linears >= 1, "the folded model has no Linear layer");
        Assert.Equal(linears, inference.NamedModules().Count(m => m.Module is FrozenLinear));
        Assert.DoesNotContain(inference.NamedModules(), m => m.Module is Linear);
    }

    /// <summary>Conv2d layers directly followed by a ReLU and a MaxPool2d(2) in a Sequential, at any depth.</summary>
    private static int CountConvThenReLUThenPool(Module module) =>
        module.NamedModules().Sum(m => m.Module is Sequential s
            ? Enumerable.Range(0, Math.Max(0, s.Count - 2)).Count(i => s[i] is Conv2d && s[i + 1] is ReLU && s[i + 2] is MaxPool2d { KernelSize: 2, Stride: 2, Padding: 0 })
            : 0);

    /// <summary>Residual blocks directly followed by a ReLU in a Sequential, at any depth.</summary>
    private static int CountResidualThenReLU(Module module) =>
        module.NamedModules().Sum(m => m.Module is Sequential s
            ? Enumerable.Range(0, s.Count - 1).Count(i => s[i] is Residual && s[i + 1] is ReLU)
            : 0);

    /// <summary>Conv2d layers directly followed by a ReLU in a Sequential, at any depth.</summary>
    private static int CountConvThenReLU(Module module) =>
        module.NamedModules().Sum(m => m.Module is Sequential s
            ? Enumerable.Range(0, s.Count - 1).Count(i => s[i] is Conv2d && s[i + 1] is ReLU)
            : 0);
}
