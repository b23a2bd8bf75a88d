using NormNet.Deployment;
using NormNet.Layers;
using Xunit.Abstractions;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Deployment;

/// <summary>Folding batch norm into the preceding Linear/Conv2d (or a ChannelAffine): same eval outputs, no BN left,
/// input model untouched, refusal in training mode and for layers without running statistics.</summary>
[Collection(TrainedModelsCollection.Name)]
public sealed class BatchNormFoldingTests(TrainedModels models, ITestOutputHelper output)
{
    private static List<float[]> Snapshot(Module m) => m.StateEntries().Select(e => e.Tensor?.ToArray() ?? [e.Scalar!.Value]).ToList();

    [Theory]
    [MemberData(nameof(TrainedModels.WithBatchNorm), MemberType = typeof(TrainedModels))]
    public void FoldedModel_MatchesTheEvalModel_OnRandomInputsAndTheTestSet(string name)
    {
        var model = models.Get(name, batchNorm: true);
        var before = Snapshot(model);
        var folded = BatchNormFolding.Fold(model);

        Assert.Contains(model.NamedModules(), m => m.Module is BatchNormBase);
        Assert.DoesNotContain(folded.NamedModules(), m => m.Module is BatchNormBase);
        Assert.False(folded.Training);
        Assert.Equal(before, Snapshot(model)); // the input model is not changed

        var shape = models.TestBatch(name).Shape;
        shape[0] = 16;
        int length = shape.Aggregate(1, (a, d) => a * d);
        var random = Tensor.FromArray(RandomNormal(length, 21, mean: 0.3, std: 1.5), shape);
        double worst = Compare(model, folded, random, $"{name} random inputs");
        // the whole test set for the MLP; the convolutional nets are slow enough on two cores that 100 images must do
        int images = name == "mlp-sigmoid" ? TrainedModels.Data.Test.Count : 100;
        worst = Math.Max(worst, Compare(model, folded, TrainedModels.TestImages(name, images), $"{name} test images"));
        output.WriteLine($"{name}: folded vs unfolded on 16 random inputs and {images} test images, max |diff| / output scale = {worst:G3}");
    }

    /// <summary>Asserts outputs agree within 1e-5 of the output scale and returns the relative worst difference.</summary>
    private static double Compare(Module model, Module folded, Tensor x, string what)
    {
        var expected = model.Forward(x).ToArray();
        var actual = folded.Forward(x).ToArray();
        AssertClose(expected, actual, 1e-5, what);
        double scale = MaxAbs(expected), worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        return worst / scale;
    }

    [Fact]
    public void Folding_FoldsIntoThePrecedingLayer_AndUsesChannelAffineElsewhere()
    {
        // Conv2d without bias + BN2d (folds, gains a bias), BN2d after ReLU (ChannelAffine), Linear + BN1d (folds),
        // BN1d first in a nested Sequential (ChannelAffine), BN in a residual body and shortcut (folds).
        var rng = new Rng(3);
        var model = new Sequential(
            new Conv2d(2, 3, 3, padding: 1, bias: false, rng: rng), new BatchNorm2d(3), new ReLU(), new BatchNorm2d(3),
            new Residual(new Sequential(new Conv2d(3, 3, 3, padding: 1, rng: rng), new BatchNorm2d(3)),
                         new Sequential(new Conv2d(3, 3, 1, rng: rng), new BatchNorm2d(3))),
            new AvgPool2d(2), new Flatten(), new Linear(12, 5, rng: rng), new BatchNorm1d(5, affine: false), new Tanh(),
            new Sequential(new BatchNorm1d(5)), new Dropout(0.5, rng));
        RandomizeState(model, seed: 4);
        model.Eval();
        var folded = (Sequential)BatchNormFolding.Fold(model);

        var types = folded.NamedModules().Skip(1).Select(m => $"{m.Name}:{m.Module.GetType().Name}").ToArray();
        Assert.Equal(
            ["0:Conv2d", "1:ReLU", "2:ChannelAffine", "3:Residual", "3.body:Sequential", "3.body.0:Conv2d", "3.shortcut:Sequential",
             "3.shortcut.0:Conv2d", "4:AvgPool2d", "5:Flatten", "6:Linear", "7:Tanh", "8:Sequential", "8.0:ChannelAffine", "9:Dropout"],
            types);
        Assert.NotNull(((Conv2d)folded[0]).Bias); // b = 0 before folding, (0 - mean) * s + beta after
        var x = Tensor.FromArray(RandomNormal(7 * 2 * 4 * 4, 5), 7, 2, 4, 4);
        AssertClose(model.Forward(x).ToArray(), folded.Forward(x).ToArray(), 1e-5, "mixed model");
    }

    [Fact]
    public void Folding_RefusesTrainingMode_AndLayersWithoutRunningStatistics()
    {
        var model = new Sequential(new Linear(4, 3, rng: new Rng(1)), new BatchNorm1d(3), new ReLU());
        var e = Assert.Throws<InvalidOperationException>(() => BatchNormFolding.Fold(model));
        Assert.Contains("call Eval() first", e.Message);

        model.Eval();
        model[2].Train(); // one module still training is enough to refuse
        Assert.Throws<InvalidOperationException>(() => BatchNormFolding.Fold(model));

        var noStats = new Sequential(new Linear(4, 3, rng: new Rng(1)), new ReLU(), new Sequential(new BatchNorm1d(3, trackRunningStats: false)));
        noStats.Eval();
        var n = Assert.Throws<NotSupportedException>(() => BatchNormFolding.Fold(noStats));
        Assert.Contains("BatchNorm1d at '2.0'", n.Message);
        Assert.Contains("trackRunningStats = false", n.Message);
    }

    private sealed class Custom : Module
    {
        public override Tensor Forward(Tensor input) => input;
        public override Tensor Backward(Tensor gradOutput) => gradOutput;
    }

    [Fact]
    public void Folding_AnUnknownLayer_NamesIt()
    {
        var model = new Sequential(new Linear(4, 3, rng: new Rng(1)), new Residual(new Sequential(new ReLU(), new Custom())));
        model.Eval();
        var e = Assert.Throws<NotSupportedException>(() => BatchNormFolding.Fold(model));
        Assert.Contains("Custom at '1.body.1'", e.Message);
    }

    [Fact]
    public void ChannelAffine_ForwardAndBackward_MatchTheFormula()
    {
        // y = x * scale[c] + shift[c] on (N, C, H, W) and (N, C); gradients checked by central differences of L = sum(g * y)
        foreach (var shape in new[] { new[] { 3, 4, 2, 5 }, [6, 4] })
        {
            int length = shape.Aggregate(1, (a, d) => a * d), inner = length / (shape[0] * 4);
            var layer = new ChannelAffine(RandomNormal(4, 1), RandomNormal(4, 2));
            var x = Tensor.FromArray(RandomNormal(length, 3), shape);
            var g = Tensor.FromArray(RandomNormal(length, 4), shape);
            var y = layer.Forward(x).ToArray();
            for (int i = 0; i < length; i++)
            {
                int c = i / inner % 4;
                Assert.Equal(x.Span[i] * layer.Scale.Value.Span[c] + layer.Shift.Value.Span[c], y[i], 5);
            }
            double Loss()
            {
                var output = layer.Forward(x).ReadOnlySpan;
                double s = 0;
                for (int i = 0; i < length; i++) s += (double)g.Span[i] * output[i];
                return s;
            }
            layer.Forward(x);
            var dx = layer.Backward(g).ToArray();
            foreach (var (values, grad, what) in new[] { (x.Span.ToArray(), dx, "dx"), (layer.Scale.Value.ToArray(), layer.Scale.Grad.ToArray(), "dscale"),
                                                           (layer.Shift.Value.ToArray(), layer.Shift.Grad.ToArray(), "dshift") })
            {
                var target = what == "dx" ? x : what == "dscale" ? layer.Scale.Value : layer.Shift.Value;
                var numeric = new double[values.Length];
                for (int i = 0; i < values.Length; i++)
                {
                    const float h = 0.01f;
                    target.Span[i] = values[i] + h;
                    double up = Loss();
                    target.Span[i] = values[i] - h;
                    double down = Loss();
                    target.Span[i] = values[i];
                    numeric[i] = (up - down) / (2 * h);
                }
                AssertClose(numeric, grad, 1e-3, $"ChannelAffine {what} for {Tensor.Format(shape)}");
            }
        }
    }
}
