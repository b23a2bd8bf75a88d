using NormNet.Layers;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>Issue #15: what BN refuses so that a wrong number never reaches its running statistics or its output.</summary>
public class BatchNormTrustTests
{
    private static Tensor Random(int seed, params int[] shape) =>
        Tensor.FromArray(RandomNormal(shape.Aggregate(1, (a, b) => a * b), seed), shape);

    [Fact]
    public void HugeButFiniteBatchStatistics_ThatWouldStoreInfinity_AreSkipped()
    {
        var bn = new BatchNorm1d(3);
        bn.Forward(Random(1, 8, 3));
        var mean = bn.RunningMean!.ToArray();
        var variance = bn.RunningVar!.ToArray();
        // std 1e20: the double variance 1e40 is finite, but it (and its unbiased product) is infinite as a float
        var x = Random(2, 8, 3);
        for (int n = 0; n < 8; n++) x[n, 2] *= 1e20f;
        bn.Forward(x);
        Assert.Equal(1, bn.SkippedNonFiniteBatches);
        Assert.Equal(1, bn.NumBatchesTracked);
        Assert.Equal(mean, bn.RunningMean!.ToArray());
        Assert.Equal(variance, bn.RunningVar!.ToArray());
        Assert.All(bn.RunningVar!.ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void UnbiasedVarianceProduct_ThatOverflowsTheStoredFloat_IsSkipped()
    {
        // n = 2: the biased batch variance 2e38 fits in a float, the stored unbiased value 2e38 * n / (n - 1) does not;
        // a cumulative average (momentum null) weights the first batch by 1, so nothing dilutes it
        var bn = new BatchNorm1d(1, momentum: null);
        float v = (float)Math.Sqrt(2e38);
        bn.Forward(Tensor.FromArray([-v, v], 2, 1));
        Assert.True(float.IsFinite((float)bn.BatchVariance[0]), "the biased batch variance alone is finite as a float");
        Assert.Equal(1, bn.SkippedNonFiniteBatches);
        Assert.Equal(1f, bn.RunningVar![0]);
        Assert.Equal(0, bn.NumBatchesTracked);
    }

    [Theory]
    [InlineData(5.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Momentum_SetAfterConstruction_IsValidatedLikeTheConstructor(double momentum)
    {
        var bn = new BatchNorm2d(2);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => bn.Momentum = momentum);
        Assert.Contains("momentum must be in [0, 1]", e.Message);
        Assert.Equal(0.1, bn.Momentum);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNorm2d(2, momentum: momentum));
        bn.Momentum = null; // a cumulative average stays allowed
        bn.Momentum = 1.0;
    }

    [Fact]
    public void NotTrackingRunningStats_EvalOnOneValuePerChannel_Throws_AsPyTorch()
    {
        var bn = new BatchNorm1d(3, trackRunningStats: false);
        bn.Eval();
        var e = Assert.Throws<ArgumentException>(() => bn.Forward(Random(1, 1, 3)));
        Assert.Contains("Expected more than 1 value per channel when training", e.Message);
        Assert.Contains("(1, 3)", e.Message);
        bn.Forward(Random(2, 2, 3)); // two values per channel: batch statistics exist
        var tracking = new BatchNorm1d(3);
        tracking.Eval();
        tracking.Forward(Random(3, 1, 3)); // tracking: eval uses the running statistics, one value is fine
    }
}
