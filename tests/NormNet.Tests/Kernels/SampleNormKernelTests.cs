using NormNet.Kernels;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>The per-sample normalization kernels (GroupNorm, LayerNorm, InstanceNorm) against the double reference at
/// every vector width, tail length and parallel split; bit-identical results for any thread count; bad arguments.</summary>
public class SampleNormKernelTests
{
    public static TheoryData<Width> Widths => KernelWidths.Supported();

    /// <summary>(Outer, Groups, ChannelsPerGroup, Inner): LayerNorm-like (Inner = 1) rows of every tail length,
    /// GroupNorm and InstanceNorm planes, and shapes above the parallel threshold (65536 elements).</summary>
    public static TheoryData<int, int, int, int> Shapes => new()
    {
        { 3, 1, 1, 3 }, { 4, 1, 7, 1 }, { 2, 1, 33, 1 }, { 5, 2, 4, 1 }, { 3, 1, 100, 1 },
        { 2, 2, 3, 17 }, { 3, 5, 1, 49 }, { 2, 4, 4, 31 }, { 1, 1, 3, 4099 },
        { 64, 1, 1536, 1 }, { 300, 1, 257, 1 }, { 8, 8, 4, 300 }, { 2, 32, 1, 1100 },
    };

    [Theory, MemberData(nameof(Shapes))]
    public void MatchesReference_EveryWidth(int n, int g, int k, int s)
    {
        foreach (var w in AllWidths())
        {
            Check(w, new SampleNormShape(n, g, k, s), seed: 11, affine: true, bias: true);
            Check(w, new SampleNormShape(n, g, k, s), seed: 21, affine: false, bias: false);
            Check(w, new SampleNormShape(n, g, k, s), seed: 31, affine: true, bias: false);
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void LargeOffset_KeepsPrecision(Width w)
    {
        // mean 1e4, std 1e-2: a one-pass E[x^2] - E[x]^2 in float would lose every digit of the variance
        Check(w, new SampleNormShape(4, 2, 3, 50), seed: 41, affine: true, bias: true, offset: 1e4, std: 1e-2);
        Check(w, new SampleNormShape(6, 1, 70, 1), seed: 51, affine: true, bias: true, offset: 1e4, std: 1e-2);
    }

    /// <summary>Rows of single-value channels (LayerNorm, GroupNorm over (N, C)) of every length from 3 to 70: every tail
    /// of the one- and two-vector tiles at each width (rows of one or two values normalize to constants, so their input
    /// gradient is zero and checks nothing).</summary>
    [Theory, MemberData(nameof(Widths))]
    public void ElementwiseRows_EveryTailLength_MatchReference(Width w)
    {
        for (int k = 3; k <= 70; k++)
        {
            Check(w, new SampleNormShape(3, 2, k, 1), seed: 300 + k, affine: true, bias: true);
            Check(w, new SampleNormShape(2, 1, k, 1), seed: 400 + k, affine: false, bias: false, offset: 3);
        }
    }

    /// <summary>GroupNorm/InstanceNorm planes of every length from 1 to 70 per channel, at each width.</summary>
    [Theory, MemberData(nameof(Widths))]
    public void Planes_EveryTailLength_MatchReference(Width w)
    {
        for (int s = 1; s <= 70; s++)
        {
            Check(w, new SampleNormShape(3, 2, 3, s), seed: 500 + s, affine: true, bias: true);
            Check(w, new SampleNormShape(2, 3, 1, s + 2), seed: 600 + s, affine: true, bias: false, offset: 3);
        }
    }

    private static IEnumerable<Width> AllWidths()
    {
        if (Simd512.IsSupported) yield return Width.W512;
        if (Simd256.IsSupported) yield return Width.W256;
        if (Simd128.IsSupported) yield return Width.W128;
        yield return Width.Scalar;
    }

    private static void Check(Width w, SampleNormShape shape, int seed, bool affine, bool bias, double offset = 0, double std = 1)
    {
        int total = (int)shape.Elements, c = shape.Channels, rows = shape.Rows;
        var x = RandomNormal(total, seed, offset, std);
        var dy = RandomNormal(total, seed + 1);
        var gamma = affine ? RandomNormal(c, seed + 2, 1, 0.3) : [];
        var beta = bias ? RandomNormal(c, seed + 3, 0, 0.3) : [];
        const double eps = 1e-5;
        string what = $"{w} {shape} affine={affine} bias={bias}";

        var y = new float[total];
        double[] mean = new double[rows], invstd = new double[rows], variance = new double[rows];
        KernelWidths.SampleForward(w, x, gamma, beta, shape, eps, y, mean, invstd, variance);
        var ry = new double[total];
        double[] rmean = new double[rows], rinv = new double[rows], rvar = new double[rows];
        SampleNormReference.Forward(ToDouble(x), ToDouble(gamma), ToDouble(beta), shape, eps, ry, rmean, rinv, rvar);
        AssertClose(ry, y, 2e-6, $"{what} y", floor: 1);
        AssertClose(rmean, mean, 1e-7, $"{what} mean", floor: Math.Max(1, Math.Abs(offset)));
        AssertClose(rvar, variance, 1e-5, $"{what} variance", floor: std * std * 1e-3);

        var dx = new float[total];
        float[] dg = affine ? new float[c] : [], db = bias ? new float[c] : [];
        if (affine) dg.AsSpan().Fill(0.25f); // gradients accumulate
        KernelWidths.SampleBackward(w, dy, x, gamma, mean, invstd, shape, dx, dg, db);
        var rdx = new double[total];
        double[] rdg = affine ? new double[c] : [], rdb = bias ? new double[c] : [];
        if (affine) rdg.AsSpan().Fill(0.25);
        SampleNormReference.Backward(ToDouble(dy), ToDouble(x), ToDouble(gamma), rmean, rinv, shape, rdx, rdg, rdb);
        Assert.True(MaxAbs(rdx) > 1e-2, $"{what}: the reference input gradient is trivially small");
        AssertClose(rdx, dx, 1e-5 / std, $"{what} dx", floor: 1e-3 / std);
        if (affine) AssertClose(rdg, dg, 1e-5, $"{what} dgamma", floor: 1);
        if (bias) AssertClose(rdb, db, 1e-5, $"{what} dbeta", floor: 1);
    }

    [Theory]
    [InlineData(64, 1, 1536, 1)]
    [InlineData(8, 8, 4, 300)]
    [InlineData(300, 2, 64, 1)]
    public void SameBits_ForAnyThreadCount(int n, int g, int k, int s)
    {
        var shape = new SampleNormShape(n, g, k, s);
        int total = (int)shape.Elements, c = shape.Channels;
        var x = RandomNormal(total, 7);
        var dy = RandomNormal(total, 8);
        var gamma = RandomNormal(c, 9, 1, 0.3);
        var beta = RandomNormal(c, 10);
        float[] Run(int threads) => WithThreads(threads, () =>
        {
            var y = new float[total];
            var dx = new float[total];
            float[] dg = new float[c], db = new float[c];
            double[] mean = new double[shape.Rows], inv = new double[shape.Rows], variance = new double[shape.Rows];
            SampleNorm.Forward(x, gamma, beta, shape, 1e-5, y, mean, inv, variance);
            SampleNorm.Backward(dy, x, gamma, mean, inv, shape, dx, dg, db);
            return y.Concat(dx).Concat(dg).Concat(db).Concat(inv.Select(v => (float)v)).ToArray();
        });
        var one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(5));
    }

    [Fact]
    public void BadArguments_Throw()
    {
        var shape = new SampleNormShape(2, 2, 3, 4);
        int total = (int)shape.Elements;
        var x = new float[total];
        var y = new float[total];
        var stats = new double[shape.Rows];
        var e = Assert.Throws<ArgumentException>(() => SampleNorm.Forward(x, new float[5], [], shape, 1e-5, y, stats, stats, stats));
        Assert.Contains("expected 6", e.Message);
        e = Assert.Throws<ArgumentException>(() => SampleNorm.Forward(x.AsSpan(1), [], [], shape, 1e-5, y, stats, stats, stats));
        Assert.Contains($"expected {total}", e.Message);
        e = Assert.Throws<ArgumentException>(() => SampleNorm.Forward(x, [], [], shape, 1e-5, y, new double[3], stats, stats));
        Assert.Contains("expected 4", e.Message);
        Assert.Throws<ArgumentException>(() => SampleNorm.Forward(x, [], [], new SampleNormShape(2, 0, 3, 4), 1e-5, y, stats, stats, stats));
        Assert.Throws<ArgumentOutOfRangeException>(() => SampleNorm.Forward(x, [], [], shape, -1, y, stats, stats, stats));
    }
}
