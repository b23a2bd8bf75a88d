using NormNet.Cli.Science;

namespace NormNet.Tests.Cli;

/// <summary>The statistics behind every verdict, against values from standard tables and R's t.test.</summary>
public sealed class StatsTests
{
    [Fact]
    public void MeanAndSd_MatchHandComputedValues()
    {
        double[] x = [2, 4, 4, 4, 5, 5, 7, 9];
        Assert.Equal(5, Stats.Mean(x), 12);
        Assert.Equal(Math.Sqrt(32.0 / 7), Stats.Sd(x), 12); // sum of squares 32, n - 1 = 7
        Assert.True(double.IsNaN(Stats.Sd([3.0])));
        Assert.True(double.IsNaN(Stats.Mean([])));
    }

    [Theory]
    [InlineData(1, 12.7062)]
    [InlineData(2, 4.3027)]
    [InlineData(4, 2.7764)]
    [InlineData(9, 2.2622)]
    [InlineData(29, 2.0452)]
    [InlineData(30, 2.0423)]
    [InlineData(31, 2.0395)]
    [InlineData(40, 2.0211)]
    [InlineData(60, 2.0003)]
    [InlineData(120, 1.9799)]
    [InlineData(100000, 1.9600)]
    public void TQuantile_MatchesTables(int df, double expected) =>
        Assert.True(Math.Abs(Stats.TQuantile975(df) - expected) < 6e-4, $"df {df}: {Stats.TQuantile975(df)} vs {expected}");

    [Fact]
    public void TQuantile_RejectsZeroDegreesOfFreedom() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Stats.TQuantile975(0));

    [Fact]
    public void Interval_MatchesRsTTest()
    {
        // t.test(1:5)$conf.int = 1.036757 4.963243
        var e = Stats.Estimate([1, 2, 3, 4, 5]);
        Assert.Equal(3, e.Mean, 12);
        Assert.Equal(5, e.N);
        Assert.Equal(1.036757, e.Low, 3);
        Assert.Equal(4.963243, e.High, 3);
        // t.test(c(0.12, -0.03, 0.08))$conf.int = -0.1362876 0.2496209
        var d = Stats.Estimate([0.12, -0.03, 0.08]);
        Assert.Equal(-0.1362876, d.Low, 3);
        Assert.Equal(0.2496209, d.High, 3);
    }

    [Fact]
    public void Interval_IgnoresNonFiniteValues_AndNeedsTwo()
    {
        var e = Stats.Estimate([1, double.NaN, 3, double.PositiveInfinity]);
        Assert.Equal(2, e.N);
        Assert.Equal(2, e.Mean, 12);
        var one = Stats.Estimate([4.0]);
        Assert.False(one.HasInterval);
        Assert.Equal("4", one.MeanSd(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void Verdict_FollowsTheIntervalWhicheverWayItFalls()
    {
        var positive = Stats.Estimate([1.0, 1.1, 0.9]);
        var negative = Stats.Estimate([-1.0, -1.1, -0.9]);
        var straddles = Stats.Estimate([1.0, -1.0, 0.2]);
        Assert.Equal(Outcome.Held, Verdict.Of(positive, Direction.Positive));
        Assert.Equal(Outcome.NotHeld, Verdict.Of(positive, Direction.Negative));
        Assert.Equal(Outcome.Held, Verdict.Of(negative, Direction.Negative));
        Assert.Equal(Outcome.Inconclusive, Verdict.Of(straddles, Direction.Positive));
        Assert.Equal(Outcome.Inconclusive, Verdict.Of(Stats.Estimate([5.0]), Direction.Positive));
        Assert.Equal(Outcome.Held, Verdict.All(Outcome.Held, Outcome.Held));
        Assert.Equal(Outcome.Inconclusive, Verdict.All(Outcome.Held, Outcome.Inconclusive));
        Assert.Equal(Outcome.NotHeld, Verdict.All(Outcome.Held, Outcome.Inconclusive, Outcome.NotHeld));
        Assert.Equal("smoke run: no verdict", Verdict.Lead(Outcome.Held, smoke: true));
        Assert.Equal("Not held", Verdict.Lead(Outcome.NotHeld, smoke: false));
    }
}
