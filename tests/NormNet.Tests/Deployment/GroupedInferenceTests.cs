using NormNet.Deployment;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Threading;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Deployment;

/// <summary>Grouped inference: the bits of the inference model on the whole batch for every built-in network, batch size
/// (one sample, a partial last group, many groups), group size, number of copies and thread count; a snapshot of the
/// weights; nothing allocated per call once warm; refusal of layers that may mix samples and of unknown layers, of
/// training mode and of Backward; a layer's own exception, not an aggregate, when a group fails.</summary>
public class GroupedInferenceTests
{
    public static TheoryData<string, int, int?, int, int> Cases => new()
    {
        { "cnn", 64, null, 2, 2 },        // groups of 16, two copies on two workers
        { "cnn", 17, 8, 3, 3 },           // a partial last group (1 sample), three workers
        { "resnet", 21, 4, 2, 2 },        // residual blocks, strided stages; a partial last group
        { "resnet", 1, null, 2, 2 },      // one sample: the first copy, layers split among the workers
        { "mlp-sigmoid", 64, null, 2, 2 }, // no convolutions: one group per worker (32 each)
        { "mlp-sigmoid", 9, null, 1, 3 },  // one copy: the groups run one after another
        { "cnn", 10, 3, 2, 1 },           // one thread: groups of 3 in turn
    };

    [Theory, MemberData(nameof(Cases))]
    public void Grouped_GivesTheInferenceModelsBits(string arch, int batch, int? group, int copies, int threads)
    {
        var model = Architectures.Create(arch, true, new Rng(21));
        RandomizeState(model, 22);
        model.Eval();
        var expected = InferenceModel.Create(model);
        var grouped = new GroupedInference(model, group, copies);
        Assert.Equal(group, grouped.GroupSize);
        Assert.Equal(copies, grouped.Copies);
        var x = Tensor.FromArray(RandomNormal(batch * 784, 23), [batch, .. Architectures.InputShapeOf(arch)]);
        var want = expected.Forward(x).ToArray();
        using var _ = ComputeSettings.Use(new ComputeSettings(threads));
        Assert.Equal(want, grouped.Forward(x).ToArray());
        // again, after another batch size: the reused buffers give the same bits
        var few = Tensor.FromArray(RandomNormal(3 * 784, 24), [3, .. Architectures.InputShapeOf(arch)]);
        Assert.Equal(expected.Forward(few).ToArray(), grouped.Forward(few).ToArray());
        Assert.Equal(want, grouped.Forward(x).ToArray());
    }

    [Fact]
    public void Grouped_IsASnapshot_AndAllocatesNothingOnceWarm()
    {
        var model = Architectures.Create("cnn", true, new Rng(25));
        model.Eval();
        var grouped = new GroupedInference(model, 4, 1);
        var x = Tensor.FromArray(RandomNormal(12 * 784, 26), 12, 1, 28, 28);
        var before = grouped.Forward(x).ToArray();
        model.NamedParameters().First().Parameter.Value.Span.Fill(0.5f);
        Assert.Equal(before, grouped.Forward(x).ToArray());
        using var _ = ComputeSettings.Use(new ComputeSettings(1));
        grouped.Forward(x);
        Assert.Equal(0, SteadyStateAllocation.Measure(() => grouped.Forward(x))[^1]);
    }

    [Fact]
    public void Grouped_RefusesLayersThatMayMixSamples_TrainingModeAndBackward()
    {
        var batchStatistics = new Sequential(new Conv2d(1, 2, 3, padding: 1, rng: new Rng(1)), new BatchNorm2d(2, trackRunningStats: false), new ReLU());
        batchStatistics.Eval();
        // folding refuses both (the inference model holds only layers it knows), and the class checks again what it got
        var ex = Assert.Throws<NotSupportedException>(() => new GroupedInference(batchStatistics));
        Assert.Contains("BatchNorm2d at '1' has trackRunningStats = false", ex.Message);
        var unknown = new Sequential(new Flatten(), new SampleMixer());
        unknown.Eval();
        ex = Assert.Throws<NotSupportedException>(() => new GroupedInference(unknown));
        Assert.Contains("SampleMixer", ex.Message);
        Assert.Equal("model.1 (SampleMixer)", GroupedInference.MixingLayer(unknown, "model"));
        Assert.Equal("model.1 (BatchNorm2d)", GroupedInference.MixingLayer(batchStatistics, "model"));
        foreach (var name in Architectures.Names)
            Assert.Null(GroupedInference.MixingLayer(InferenceModel.Create(Eval(Architectures.Create(name, true, new Rng(3)))), "model"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GroupedInference(new Sequential(new Flatten()), 0));

        var grouped = new GroupedInference(Eval(new Sequential(new Flatten(), new Linear(4, 2, rng: new Rng(2)))), 2, 2);
        var x = Tensor.FromArray(RandomNormal(8 * 4, 3), 8, 4);
        Assert.Throws<NotSupportedException>(() => grouped.Backward(x));
        grouped.Train();
        Assert.Throws<InvalidOperationException>(() => grouped.Forward(x));
    }

    [Fact]
    public void Grouped_AFailingGroupThrowsTheLayersOwnException()
    {
        var grouped = new GroupedInference(Eval(new Sequential(new Linear(4, 2, rng: new Rng(2)))), 2, 2);
        using var _ = ComputeSettings.Use(new ComputeSettings(2));
        var ex = Assert.Throws<ArgumentException>(() => grouped.Forward(Tensor.FromArray(new float[8 * 5], 8, 5)));
        Assert.Contains("Linear(4, 2)", ex.Message);
    }

    private static Sequential Eval(Sequential model)
    {
        model.Eval();
        return model;
    }

    /// <summary>A layer GroupedInference does not know: it could mix samples, for all the class can tell.</summary>
    private sealed class SampleMixer : Module
    {
        public override Tensor Forward(Tensor input) => input;
        public override Tensor Backward(Tensor gradOutput) => gradOutput;
    }
}
