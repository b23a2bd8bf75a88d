using NormNet.Kernels;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>The vectorized, parallel kernels against the double reference, at every width and tail length.</summary>
public class BatchNormKernelTests
{
    public static TheoryData<Width> Widths => KernelWidths.Supported();

    /// <summary>One full check of all four kernels against the reference on one shape.</summary>
    internal static void CheckAgainstReference(Width w, BatchNormShape shape, int seed, bool affine = true, double offset = 0, double std = 1)
    {
        int total = (int)shape.Elements, c = shape.Channels;
        var x = RandomNormal(total, seed, offset, std);
        var dy = RandomNormal(total, seed + 1);
        var gamma = affine ? RandomNormal(c, seed + 2, 1, 0.3) : [];
        var beta = affine ? RandomNormal(c, seed + 3, 0, 0.3) : [];
        const double eps = 1e-5;

        // training forward
        var y = new float[total];
        double[] mean = new double[c], invstd = new double[c], variance = new double[c];
        KernelWidths.TrainingForward(w, x, gamma, beta, shape, eps, y, mean, invstd, variance);
        var ry = new double[total];
        double[] rmean = new double[c], rinv = new double[c], rvar = new double[c];
        BatchNormReference.TrainingForward(ToDouble(x), ToDouble(gamma), ToDouble(beta), shape, eps, ry, rmean, rinv, rvar);
        AssertClose(ry, y, 2e-6, $"{w} {shape} y", floor: 1);
        AssertClose(rmean, mean, 1e-7, $"{w} {shape} mean", floor: 1);
        AssertClose(rvar, variance, 1e-6, $"{w} {shape} variance");

        // training backward
        var dx = new float[total];
        float[] dg = affine ? new float[c] : [], db = affine ? new float[c] : [];
        KernelWidths.Backward(w, dy, x, gamma, mean, invstd, shape, dx, dg, db, frozen: false);
        var rdx = new double[total];
        double[] rdg = affine ? new double[c] : [], rdb = affine ? new double[c] : [];
        BatchNormReference.TrainingBackward(ToDouble(dy), ToDouble(x), ToDouble(gamma), rmean, rinv, shape, rdx, rdg, rdb);
        AssertClose(rdx, dx, 1e-5, $"{w} {shape} dx", floor: 1e-3);
        if (affine)
        {
            AssertClose(rdg, dg, 1e-5, $"{w} {shape} dgamma", floor: 1);
            AssertClose(rdb, db, 1e-5, $"{w} {shape} dbeta", floor: 1);
        }

        // inference forward and backward with running statistics
        var rm = RandomNormal(c, seed + 4, offset, 0.5 * std + 0.1);
        var rv = RandomNormal(c, seed + 5, 0, 1).Select(v => (float)(std * std * (0.5 + Math.Abs(v)))).ToArray();
        KernelWidths.InferenceForward(w, x, gamma, beta, rm, rv, shape, eps, y);
        BatchNormReference.InferenceForward(ToDouble(x), ToDouble(gamma), ToDouble(beta), ToDouble(rm), ToDouble(rv), shape, eps, ry);
        AssertClose(ry, y, 1e-5, $"{w} {shape} eval y", floor: 1);
        if (affine) { Array.Clear(dg); Array.Clear(db); Array.Clear(rdg); Array.Clear(rdb); }
        KernelWidths.InferenceBackward(w, dy, x, gamma, rm, rv, shape, eps, dx, dg, db);
        BatchNormReference.InferenceBackward(ToDouble(dy), ToDouble(x), ToDouble(gamma), ToDouble(rm), ToDouble(rv), shape, eps, rdx, rdg, rdb);
        AssertClose(rdx, dx, 1e-6, $"{w} {shape} eval dx", floor: 1e-3);
        if (affine)
        {
            AssertClose(rdg, dg, 1e-5, $"{w} {shape} eval dgamma", floor: 1);
            AssertClose(rdb, db, 1e-5, $"{w} {shape} eval dbeta", floor: 1);
        }
    }

    [Theory, MemberData(nameof(Widths))]
    public void PlanarLayout_EveryTailLength_MatchesReference(Width w)
    {
        for (int s = 2; s <= 70; s++) CheckAgainstReference(w, new BatchNormShape(3, 2, s), seed: s);
        // five images: one group of four planes read together, then one plane alone
        for (int s = 1; s <= 70; s++) CheckAgainstReference(w, new BatchNormShape(5, 2, s), seed: 200 + s, offset: 4);
    }

    [Theory, MemberData(nameof(Widths))]
    public void ChannelsLastLayout_EveryTailLength_MatchesReference(Width w)
    {
        for (int c = 1; c <= 70; c++) CheckAgainstReference(w, new BatchNormShape(5, c, 1), seed: 100 + c);
    }

    [Theory, MemberData(nameof(Widths))]
    public void WithoutAffine_MatchesReference(Width w)
    {
        CheckAgainstReference(w, new BatchNormShape(4, 3, 10), seed: 7, affine: false);
        CheckAgainstReference(w, new BatchNormShape(9, 19, 1), seed: 8, affine: false);
    }

    [Theory, MemberData(nameof(Widths))]
    public void ParallelShapes_MatchReference(Width w)
    {
        // big enough for several chunks and several cache sub-blocks in both layouts
        CheckAgainstReference(w, new BatchNormShape(6, 12, 1200), seed: 11, offset: 2, std: 3);
        CheckAgainstReference(w, new BatchNormShape(1100, 83, 1), seed: 12, offset: -1, std: 0.5);
        CheckAgainstReference(w, new BatchNormShape(70000, 3, 1), seed: 13);
        // (M, C) with few rows goes by column blocks of 64 channels, in parallel here, the last block 1 channel wide
        CheckAgainstReference(w, new BatchNormShape(300, 257, 1), seed: 14, offset: 3, std: 2);
        // row chunks with wide rows: 4-vector tiles, then 1-vector tiles, then scalar channels in each row block
        CheckAgainstReference(w, new BatchNormShape(1500, 150, 1), seed: 15, offset: -2, std: 0.7);
    }

    [Theory, MemberData(nameof(Widths))]
    public void OutputsLargerThanTheCaches_UseStreamingStores_AndMatchReference(Width w)
    {
        // > 16 MB outputs take the non-temporal-store path, including unaligned plane starts (S not a multiple of 16)
        CheckAgainstReference(w, new BatchNormShape(2, 8, 262_147), seed: 61);
        CheckAgainstReference(w, new BatchNormShape(65_539, 67, 1), seed: 62);
    }

    [Fact]
    public void TensorStorage_Is64ByteAligned()
    {
        foreach (int n in new[] { 1, 3, 17, 1000 })
            unsafe
            {
                fixed (float* p = Tensor.Zeros(n).Span) Assert.Equal(0, (long)p % 64);
            }
    }

    [Theory]
    [InlineData(8, 16, 900)]   // NCHW, several channels per chunk
    [InlineData(3000, 77, 1)]  // channels-last, many row chunks
    [InlineData(500, 300, 1)]  // (M, C) with few rows: column blocks
    [InlineData(2, 40, 5000)]  // long planes, several float blocks per plane
    public void Results_AreBitIdentical_ForAnyThreadCount(int n, int c, int s)
    {
        var shape = new BatchNormShape(n, c, s);
        int total = (int)shape.Elements;
        var x = RandomNormal(total, 21, 0.5, 2);
        var dy = RandomNormal(total, 22);
        var gamma = RandomNormal(c, 23, 1, 0.2);
        var beta = RandomNormal(c, 24);
        float[] Run(int threads) => WithThreads(threads, () =>
        {
            var y = new float[total];
            var dx = new float[total];
            double[] mean = new double[c], inv = new double[c], var = new double[c];
            float[] dg = new float[c], db = new float[c];
            BatchNorm.TrainingForward(x, gamma, beta, shape, 1e-5, y, mean, inv, var);
            BatchNorm.TrainingBackward(dy, x, gamma, mean, inv, shape, dx, dg, db);
            return y.Concat(dx).Concat(dg).Concat(db).Concat(mean.Select(v => (float)v)).Concat(var.Select(v => (float)(v * 1e3))).ToArray();
        });
        var one = Run(1);
        foreach (int t in new[] { 2, 3, 4 })
        {
            var other = Run(t);
            Assert.True(one.AsSpan().SequenceEqual(other), $"results with {t} threads differ from 1 thread");
        }
    }

    [Theory]
    [InlineData(16, 4, 256)]
    [InlineData(4096, 4, 1)]
    [InlineData(700, 130, 1)]
    public void LargeMeanSmallStd_KeepsPrecision(int n, int c, int s)
    {
        // mean 1e4, std 1e-2: E[x^2] - E[x]^2 in float gives garbage here; we must match double on the same floats.
        var shape = new BatchNormShape(n, c, s);
        int total = (int)shape.Elements;
        var x = RandomNormal(total, 31, 1e4, 1e-2);
        var y = new float[total];
        double[] mean = new double[c], inv = new double[c], variance = new double[c];
        BatchNorm.TrainingForward(x, [], [], shape, 1e-9, y, mean, inv, variance);
        var ry = new double[total];
        double[] rmean = new double[c], rinv = new double[c], rvar = new double[c];
        BatchNormReference.TrainingForward(ToDouble(x), [], [], shape, 1e-9, ry, rmean, rinv, rvar);
        for (int j = 0; j < c; j++)
        {
            Assert.InRange(rvar[j], 0.5e-4, 2e-4); // the data really has std ~1e-2
            Assert.True(Math.Abs(variance[j] - rvar[j]) <= 1e-5 * rvar[j], $"variance {variance[j]} vs {rvar[j]}");
            Assert.True(Math.Abs(mean[j] - rmean[j]) <= 1e-9 * 1e4, $"mean {mean[j]} vs {rmean[j]}");
        }
        // outputs are O(1): float rounding of x - mean is exact, so the error stays near float epsilon
        AssertClose(ry, y, 1e-5, "normalized output", floor: 1);
    }

    [Theory]
    [InlineData(5, 3, 7)]
    [InlineData(40, 3, 1)]
    public void ConstantChannel_HasZeroVarianceAndOutputsBeta(int n, int c, int s)
    {
        var shape = new BatchNormShape(n, c, s);
        int total = (int)shape.Elements;
        var x = RandomNormal(total, 41);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < s; k++) x[(i * c + 1) * s + k] = 1234.5f; // channel 1 is constant
        float[] gamma = [2f, 3f, 4f], beta = [0.5f, -0.25f, 1f];
        var y = new float[total];
        double[] mean = new double[c], inv = new double[c], variance = new double[c];
        BatchNorm.TrainingForward(x, gamma, beta, shape, 1e-5, y, mean, inv, variance);
        Assert.Equal(0.0, variance[1]);
        Assert.Equal(1234.5, mean[1]);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < s; k++) Assert.Equal(-0.25f, y[(i * c + 1) * s + k]);
        // and its input gradient is finite: gamma * invstd * (dy - mean(dy)), with invstd = 1/sqrt(eps)
        var dy = RandomNormal(total, 42);
        var dx = new float[total];
        BatchNorm.TrainingBackward(dy, x, gamma, mean, inv, shape, dx, new float[c], new float[c]);
        Assert.All(dx, v => Assert.True(float.IsFinite(v)));
    }

    [Theory]
    [InlineData(10, 3, 50)]
    [InlineData(500, 6, 1)]
    public void TrainingOutput_HasMeanBetaAndVarianceGammaSquared(int n, int c, int s)
    {
        var shape = new BatchNormShape(n, c, s);
        int total = (int)shape.Elements;
        var x = RandomNormal(total, 51, 3, 5); // variance 25 >> eps
        float[] gamma = RandomNormal(c, 52, 1.5, 0.5), beta = RandomNormal(c, 53);
        var y = new float[total];
        double[] mean = new double[c], inv = new double[c], variance = new double[c];
        const double eps = 1e-5;
        BatchNorm.TrainingForward(x, gamma, beta, shape, eps, y, mean, inv, variance);
        for (int j = 0; j < c; j++)
        {
            double sum = 0, sq = 0, count = shape.PerChannel;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++) sum += y[(i * c + j) * s + k];
            double m = sum / count;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++) sq += Math.Pow(y[(i * c + j) * s + k] - m, 2);
            double v = sq / count;
            Assert.True(Math.Abs(m - beta[j]) < 1e-5, $"channel {j}: output mean {m}, beta {beta[j]}");
            double expected = gamma[j] * (double)gamma[j] * variance[j] / (variance[j] + eps);
            Assert.True(Math.Abs(v - expected) < 1e-5 * expected, $"channel {j}: output variance {v}, gamma^2 {expected}");
        }
    }

    [Fact]
    public void BadLengths_Throw()
    {
        var shape = new BatchNormShape(2, 3, 4);
        var x = new float[24];
        double[] m = new double[3], i = new double[3], v = new double[3];
        Assert.Throws<ArgumentException>(() => BatchNorm.TrainingForward(x, [], [], shape, 1e-5, new float[23], m, i, v));
        Assert.Throws<ArgumentException>(() => BatchNorm.TrainingForward(x, new float[2], [], shape, 1e-5, new float[24], m, i, v));
        Assert.Throws<ArgumentException>(() => BatchNorm.TrainingForward(x, [], [], shape, 1e-5, new float[24], new double[2], i, v));
        Assert.Throws<ArgumentException>(() => BatchNorm.TrainingBackward(new float[20], x, [], m, i, shape, new float[24], [], []));
        Assert.Throws<ArgumentException>(() => BatchNorm.InferenceForward(x, [], [], new float[3], new float[4], shape, 1e-5, new float[24]));
        Assert.Throws<ArgumentException>(() => BatchNorm.TrainingForward([], [], [], new BatchNormShape(0, 3, 4), 1e-5, [], m, i, v));
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchNorm.TrainingForward(x, [], [], shape, -1, new float[24], m, i, v));
    }
}
