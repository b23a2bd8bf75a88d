using NormNet.Kernels;
using NormNet.Threading;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>The direct convolution with 2x2 max pooling in its epilogue against the convolution followed by the pooling
/// kernel, bit for bit (signs of zeros and NaNs included), at every vector width, with and without bias and ReLU: pooled
/// rows of four windows and more (vectors) and of fewer (one window at a time), odd output sizes (a last row and column no
/// window covers), stride 2, partial 4-channel panels, pooling inside row-pair and channel tiles (ties, infinities, NaN, non-finite biases), one image split among the workers by output channels, and batches
/// on the workers; the same bits for 1, 2 and 3 threads; misuse reported.</summary>
public class DirectConvolutionPoolingTests
{
    /// <summary>n, c, h, w, cout, stride.</summary>
    public static TheoryData<int, int, int, int, int, int> Cases => new()
    {
        { 3, 32, 14, 14, 16, 1 },  // the cnn's second convolution's shape, smaller batch: pooled rows of 7
        { 2, 5, 7, 9, 6, 1 },      // odd output 7x9: pooled 3x4, the last row and column dropped; a partial panel
        { 2, 3, 6, 6, 5, 1 },      // pooled rows of 3: one window at a time
        { 2, 4, 11, 13, 7, 2 },    // stride 2: output 6x7, pooled 3x3
        { 1, 32, 28, 28, 48, 1 },  // one image, 22 MFLOP: its channel blocks split among the workers
        { 12, 4, 28, 28, 8, 1 },   // on the workers
        { 2, 8, 14, 14, 32, 1 },   // channel tiles (16-wide vectors): pooled rows of 7 from rows without padding columns
        { 1, 128, 13, 13, 64, 1 }, // channel tiles, odd output: pooled 6x6; one image's two blocks split among the workers (25 MFLOP)
        { 2, 16, 28, 28, 32, 2 },  // channel tiles at stride 2
        { 2, 4, 16, 16, 32, 1 },   // channel tiles: pooled runs of 14 and 2 positions
        { 3, 1, 28, 28, 32, 1 },   // the cnn's first convolution: row-pair tiles (16-wide vectors, rows of 30) pooled in registers
        { 2, 3, 27, 25, 6, 1 },    // row pairs: odd output 27x25 (the last row and column dropped), rows of 27, a partial panel
        { 2, 2, 60, 62, 5, 2 },    // row pairs at stride 2: phase-plane rows of 32, output 30x31
        { 1, 4, 31, 17, 36, 1 },   // row pairs: rows of 19, pooled rows of 8
    };

    /// <summary>Geometries whose pooled forward runs in row-pair tiles with 16-wide vectors (true) or in channel tiles (false).</summary>
    public static TheoryData<int, int, int, int, int, int, bool> InTileCases => new()
    {
        { 3, 1, 28, 28, 32, 1, true },
        { 2, 3, 27, 25, 6, 1, true },
        { 2, 2, 60, 62, 5, 2, true },
        { 1, 4, 31, 17, 36, 1, true },
        { 2, 4, 16, 16, 32, 1, false }, // runs of 14 and 2
        { 2, 3, 13, 13, 64, 1, false }, // odd output: runs of 4
        { 2, 8, 14, 14, 32, 2, false }, // stride 2: rows of 7, runs of 4 and 2
    };

    public static IEnumerable<object[]> CasesAtEveryWidth() =>
        from object[] w in KernelWidths.Supported() from object[] c in Cases select w.Concat(c).ToArray();

    [Theory, MemberData(nameof(CasesAtEveryWidth))]
    public void Pooled_GivesTheBitsOfTheConvolutionThenThePooling(Width width, int n, int c, int h, int w, int cout, int stride)
    {
        var g = new ConvGeometry(n, c, h, w, 3, 3, stride, 1);
        var x = RandomNormal(n * c * h * w, 1);
        x[x.Length / 3] = float.NaN; // one NaN: every window it reaches pools to NaN in both paths
        var wt = RandomNormal(cout * g.PatchSize, 2, 0, 0.3);
        var b = RandomNormal(cout, 3);
        foreach (var activation in new[] { FusedActivation.Relu, FusedActivation.None })
            foreach (var bias in new[] { b, [] })
            {
                var expected = Unfused(x, wt, bias, g, cout, width, activation);
                var actual = new float[expected.Length];
                DirectConvolution.ForwardMaxPool2x2(x, wt, bias, g, cout, actual, width.ToSimd(), activation);
                Assert.Contains(expected, float.IsNaN);
                Assert.Contains(expected, v => !float.IsNaN(v));
                Assert.Equal(Bits(expected), Bits(actual));
            }
    }

    [Theory, MemberData(nameof(InTileCases))]
    public void PoolingInTheTiles_GivesTheBitsOfTheEpilogueThenThePooling_WhateverTheValues(int n, int c, int h, int w, int cout, int stride, bool rowPairs)
    {
        var g = new ConvGeometry(n, c, h, w, 3, 3, stride, 1);
        Assert.Equal(Simd512.IsSupported && rowPairs, DirectConvolution.UsesPooledRowPairs(SimdWidth.W512, g, cout));
        Assert.Equal(Simd512.IsSupported && !rowPairs, DirectConvolution.UsesChannelTiles(SimdWidth.W512, g, cout));
        Assert.False(DirectConvolution.UsesPooledRowPairs(SimdWidth.W256, g, cout));
        if (!Simd512.IsSupported) return;
        var x = RandomNormal(n * c * h * w, 7);
        var wt = RandomNormal(cout * g.PatchSize, 8, 0, 0.3);
        // outputs that tie (x = 0 gives conv = b exactly), +inf and -inf (one window of each sign), NaN in one window, and
        // biases of +inf and NaN: the cases where pooling before the bias and activation could differ, taken in order instead
        Array.Clear(x, 0, w * 3);
        x[c * h * w - 1] = float.PositiveInfinity;
        x[(n - 1) * c * h * w + w + 2] = float.NegativeInfinity;
        x[x.Length / 2] = float.NaN;
        var b = RandomNormal(cout, 9);
        var odd = (float[])b.Clone();
        odd[0] = float.PositiveInfinity;
        odd[cout - 1] = float.NaN;
        foreach (var activation in new[] { FusedActivation.Relu, FusedActivation.None })
            foreach (var bias in new[] { b, [], odd })
            {
                var expected = Unfused(x, wt, bias, g, cout, Width.W256, activation);
                var actual = new float[expected.Length];
                DirectConvolution.ForwardMaxPool2x2(x, wt, bias, g, cout, actual, SimdWidth.W512, activation);
                Assert.Equal(Bits(expected), Bits(actual));
            }
    }

    [Theory, MemberData(nameof(Cases))]
    public void Pooled_IsBitIdenticalAcrossThreadCounts(int n, int c, int h, int w, int cout, int stride)
    {
        var g = new ConvGeometry(n, c, h, w, 3, 3, stride, 1);
        var (x, wt, b) = (RandomNormal(n * c * h * w, 4), RandomNormal(cout * g.PatchSize, 5, 0, 0.3), RandomNormal(cout, 6));
        int[] Run(int threads)
        {
            using var _ = ComputeSettings.Use(new ComputeSettings(threads));
            var y = new float[n * cout * (g.OutH / 2) * (g.OutW / 2)];
            DirectConvolution.ForwardMaxPool2x2(x, wt, b, g, cout, y, FusedActivation.Relu);
            return Bits(y);
        }
        var one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));
    }

    [Fact]
    public void OutputSmallerThanAWindowOrWrongSizes_Throw()
    {
        var tiny = new ConvGeometry(1, 2, 3, 1, 3, 3, 1, 1); // output 3x1
        var ex = Assert.Throws<ArgumentException>(() => DirectConvolution.ForwardMaxPool2x2(new float[6], new float[36], default, tiny, 2, new float[0]));
        Assert.Contains("smaller than one 2x2 window", ex.Message);
        var g = new ConvGeometry(1, 2, 6, 6, 3, 3, 1, 1);
        ex = Assert.Throws<ArgumentException>(() => DirectConvolution.ForwardMaxPool2x2(new float[72], new float[36], default, g, 2, new float[72]));
        Assert.Contains("y 72 (18)", ex.Message);
    }

    private static float[] Unfused(float[] x, float[] wt, float[] b, ConvGeometry g, int cout, Width width, FusedActivation activation)
    {
        var y = new float[g.N * cout * g.OutPlane];
        DirectConvolution.Forward(x, wt, b, g, cout, y, width.ToSimd(), activation);
        var pool = new ConvGeometry(g.N, cout, g.OutH, g.OutW, 2, 2, 2, 0);
        var pooled = new float[g.N * cout * pool.OutPlane];
        Pooling.MaxForward(y, pool, pooled, default);
        return pooled;
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
}
