using NormNet.Layers;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>BatchNorm layer semantics beyond the golden files: modes, names, bad input and non-finite input.</summary>
public class BatchNormLayerTests
{
    private static Tensor Random(int seed, params int[] shape) =>
        Tensor.FromArray(RandomNormal(shape.Aggregate(1, (a, b) => a * b), seed), shape);

    [Fact]
    public void StateNames_MatchPyTorch()
    {
        var bn = new BatchNorm2d(4);
        Assert.Equal(["weight", "bias"], bn.NamedParameters().Select(p => p.Name));
        Assert.Equal(["running_mean", "running_var", "num_batches_tracked"], bn.NamedBuffers().Select(b => b.Name));
        Assert.Equal(NormNet.Layers.DType.Int64, bn.NamedBuffers().Last().Buffer.DType);
        Assert.Empty(new BatchNorm1d(3, affine: false).NamedParameters());
        Assert.Empty(new BatchNorm1d(3, trackRunningStats: false).NamedBuffers());
        Assert.Equal([1f, 1f, 1f, 1f], bn.Weight!.Value.ToArray());
        Assert.Equal([0f, 0f, 0f, 0f], bn.Bias!.Value.ToArray());
        Assert.Equal([1f, 1f, 1f, 1f], bn.RunningVar!.ToArray());
    }

    [Fact]
    public void KerasMomentum_ConvertsToPyTorchConvention() =>
        Assert.Equal(0.01, BatchNormBase.FromKerasMomentum(0.99), 12);

    [Fact]
    public void EvalMode_UsesRunningStatistics()
    {
        var bn = new BatchNorm1d(3);
        for (int i = 0; i < 5; i++) bn.Forward(Random(i, 16, 3));
        bn.Eval();
        var x = Random(99, 4, 3);
        var y = bn.Forward(x);
        for (int n = 0; n < 4; n++)
            for (int c = 0; c < 3; c++)
            {
                double expected = (x[n, c] - bn.RunningMean![c]) / Math.Sqrt(bn.RunningVar![c] + 1e-5) * bn.Weight!.Value[c] + bn.Bias!.Value[c];
                Assert.Equal(expected, y[n, c], 5);
            }
        Assert.Equal(5, bn.NumBatchesTracked);
        // eval does not touch the running statistics
        var before = bn.RunningMean!.ToArray();
        bn.Forward(Random(100, 4, 3));
        Assert.Equal(before, bn.RunningMean!.ToArray());
    }

    [Fact]
    public void OneValuePerChannel_InTraining_ThrowsAndLeavesStatisticsUntouched()
    {
        var bn = new BatchNorm1d(3);
        bn.Forward(Random(1, 4, 3));
        var mean = bn.RunningMean!.ToArray();
        var e = Assert.Throws<ArgumentException>(() => bn.Forward(Random(2, 1, 3)));
        Assert.Contains("Expected more than 1 value per channel when training", e.Message);
        Assert.Contains("(1, 3)", e.Message);
        Assert.Equal(mean, bn.RunningMean!.ToArray());
        Assert.Equal(1, bn.NumBatchesTracked);

        var bn2 = new BatchNorm2d(2);
        Assert.Throws<ArgumentException>(() => bn2.Forward(Random(3, 1, 2, 1, 1)));
        bn2.Forward(Random(4, 1, 2, 1, 2)); // two values per channel is enough
        bn2.Eval();
        bn2.Forward(Random(5, 1, 2, 1, 1)); // eval with a single value is fine
    }

    [Fact]
    public void BadShapes_NameExpectedAndActual()
    {
        var bn = new BatchNorm2d(3);
        var rank = Assert.Throws<ArgumentException>(() => bn.Forward(Random(1, 2, 3, 4)));
        Assert.Contains("4D (N, C, H, W)", rank.Message);
        Assert.Contains("(2, 3, 4)", rank.Message);
        var channels = Assert.Throws<ArgumentException>(() => bn.Forward(Random(1, 2, 5, 4, 4)));
        Assert.Contains("expected 3 channels", channels.Message);
        Assert.Contains("(2, 5, 4, 4)", channels.Message);
        var empty = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(0, 3, 4, 4)));
        Assert.Contains("empty", empty.Message);
        var last = new BatchNorm2d(3, memoryFormat: MemoryFormat.ChannelsLast);
        Assert.Contains("channels-last", Assert.Throws<ArgumentException>(() => last.Forward(Random(1, 2, 3, 4, 4))).Message);
        Assert.Throws<ArgumentException>(() => new BatchNorm1d(4).Forward(Random(1, 2, 4, 3, 3)));
        Assert.Throws<ArgumentException>(() => new BatchNorm3d(4).Forward(Random(1, 2, 4, 3, 3)));
    }

    [Fact]
    public void Backward_BeforeForward_OrWithWrongShape_Throws()
    {
        var bn = new BatchNorm1d(3);
        var before = Assert.Throws<InvalidOperationException>(() => bn.Backward(Random(1, 4, 3)));
        Assert.Contains("before Forward", before.Message);
        bn.Forward(Random(2, 4, 3));
        var shape = Assert.Throws<ArgumentException>(() => bn.Backward(Random(3, 5, 3)));
        Assert.Contains("(5, 3)", shape.Message);
        Assert.Contains("(4, 3)", shape.Message);
    }

    [Fact]
    public void BadConstructorArguments_Throw()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNorm1d(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNorm1d(3, eps: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNorm1d(3, momentum: 1.5));
    }

    [Fact]
    public void NonFiniteInput_PropagatesButNeverReachesRunningStatistics()
    {
        var bn = new BatchNorm1d(3);
        bn.Forward(Random(1, 8, 3));
        var mean = bn.RunningMean!.ToArray();
        var variance = bn.RunningVar!.ToArray();
        var x = Random(2, 8, 3);
        x[5, 1] = float.NaN;
        var y = bn.Forward(x);
        for (int n = 0; n < 8; n++)
        {
            Assert.True(float.IsNaN(y[n, 1]), "NaN must propagate through its channel, as in PyTorch");
            Assert.True(float.IsFinite(y[n, 0]) && float.IsFinite(y[n, 2]), "other channels stay finite");
        }
        Assert.Equal(mean, bn.RunningMean!.ToArray());
        Assert.Equal(variance, bn.RunningVar!.ToArray());
        Assert.Equal(1, bn.NumBatchesTracked);
        Assert.Equal(1, bn.SkippedNonFiniteBatches);
        x[5, 1] = float.PositiveInfinity;
        bn.Forward(x);
        Assert.Equal(2, bn.SkippedNonFiniteBatches);
        Assert.Equal(mean, bn.RunningMean!.ToArray());
    }

    [Fact]
    public void ResetRunningStats_RestoresDefaults()
    {
        var bn = new BatchNorm1d(2);
        bn.Forward(Random(1, 5, 2));
        bn.ResetRunningStats();
        Assert.Equal([0f, 0f], bn.RunningMean!.ToArray());
        Assert.Equal([1f, 1f], bn.RunningVar!.ToArray());
        Assert.Equal(0, bn.NumBatchesTracked);
    }

    [Fact]
    public void ParameterGradients_Accumulate_UntilZeroGrad()
    {
        var bn = new BatchNorm1d(3);
        var x = Random(1, 6, 3);
        var g = Random(2, 6, 3);
        bn.Forward(x);
        bn.Backward(g);
        var once = bn.Weight!.Grad.ToArray();
        bn.Forward(x);
        bn.Backward(g);
        Assert.Equal(once.Select(v => 2 * v).ToArray(), bn.Weight.Grad.ToArray());
        bn.ZeroGrad();
        Assert.All(bn.Weight.Grad.ToArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SteadyStateStep_AllocatesNothing(bool channelsLast)
    {
        var bn = new BatchNorm2d(16, memoryFormat: channelsLast ? MemoryFormat.ChannelsLast : MemoryFormat.ChannelsFirst);
        var x = channelsLast ? Random(1, 8, 12, 12, 16) : Random(1, 8, 16, 12, 12);
        var g = Random(2, x.Shape);
        void Steps(int count)
        {
            for (int i = 0; i < count; i++)
            {
                bn.Train();
                bn.Forward(x);
                bn.Backward(g);
                bn.Eval();
                bn.Forward(x);
                bn.Backward(g);
            }
        }
        Steps(3);
        SteadyStateAllocation.AssertNone(() => Steps(20), "20 train and eval steps");
    }
}
