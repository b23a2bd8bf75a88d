using NormNet.Kernels;
using NormNet.Threading;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>The direct weight gradient (<see cref="DirectConvolution.WeightGradient(ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, Span{float})"/>)
/// against the double reference at every vector width: strides 1, 2 and 3, output channels not a multiple of the 4-row
/// tile, tap counts not a multiple of the 6-tap tile (1x1, 3x3 with 1 channel, 5x5), padded-width outputs ending in a
/// partial vector, more images than one group holds; channel tiles (output channels in blocks of 32) against the double
/// reference and bit for bit against their summation order; it accumulates into dW and db; the same bits for 1, 2 and 3
/// threads; bad sizes refused.</summary>
public class DirectWeightGradientTests
{
    /// <summary>n, c, h, w, cout, k, stride, padding.</summary>
    public static TheoryData<int, int, int, int, int, int, int, int> Cases => new()
    {
        { 3, 16, 28, 28, 16, 3, 1, 1 },  // the resnet's 16-channel convolution, smaller batch
        { 2, 1, 28, 28, 32, 3, 1, 1 },   // the cnn's first: 9 taps, one full 6-tap tile and a partial one
        { 2, 5, 7, 9, 6, 3, 1, 1 },      // Cout 6: a partial 4-row tile; odd sizes
        { 2, 3, 8, 5, 4, 3, 1, 0 },      // no padding
        { 1, 4, 11, 13, 7, 5, 1, 2 },    // 5x5, padding 2: 100 taps
        { 3, 8, 6, 6, 9, 1, 1, 0 },      // 1x1: 8 taps
        { 1, 2, 1, 1, 1, 3, 1, 1 },      // a single pixel
        { 40, 16, 14, 14, 8, 3, 1, 1 },  // several groups, on the workers
        { 2, 16, 28, 28, 32, 3, 2, 1 },  // the resnet's first downsampling convolution
        { 3, 5, 9, 7, 6, 3, 2, 1 },      // stride 2, odd sizes: phase planes of unequal valid extents
        { 2, 4, 11, 13, 7, 5, 3, 2 },    // 5x5, stride 3
        { 1, 3, 2, 2, 2, 3, 2, 1 },      // a single output pixel
        { 30, 8, 14, 14, 12, 3, 2, 1 },  // stride 2, several groups
        // channel tiles (output channels in blocks of 32, 16-wide vectors)
        { 20, 64, 7, 7, 64, 3, 1, 1 },   // the resnet's last stage: 49 positions an image, several groups
        { 9, 32, 14, 14, 64, 3, 2, 1 },  // the resnet's stride-2 32 -> 64; an odd count of positions in the last group
        { 3, 4, 9, 7, 96, 5, 1, 2 },     // 3 channel blocks, 100 taps (a partial 6-tap tile), odd sizes
        { 2, 3, 10, 10, 32, 3, 3, 0 },   // stride 3, no padding
        { 1, 2, 1, 1, 32, 3, 1, 1 },     // a single position
    };

    public static IEnumerable<object[]> CasesAtEveryWidth() =>
        from object[] w in KernelWidths.Supported() from object[] c in Cases select w.Concat(c).ToArray();

    [Theory, MemberData(nameof(CasesAtEveryWidth))]
    public void WeightGradient_MatchesReferenceAndAccumulates(Width width, int n, int c, int h, int w, int cout, int k, int stride, int padding)
    {
        var g = new ConvGeometry(n, c, h, w, k, k, stride, padding);
        var (x, wt, dy) = Inputs(g, cout);
        // dW and db start non-zero: the kernel adds to them
        var (dw, db) = (RandomNormal(wt.Length, 7), RandomNormal(cout, 8));
        var (dw0, db0) = (ToDouble(dw), ToDouble(db));
        DirectConvolution.WeightGradient(dy, x, g, cout, dw, db, width.ToSimd());
        var (rdx, rdw, rdb) = (new double[x.Length], new double[wt.Length], new double[cout]);
        LayerReference.Conv2dBackward(ToDouble(dy), ToDouble(x), ToDouble(wt), g, cout, rdx, rdw, rdb);
        AssertClose(rdw.Zip(dw0, (r, s) => r + s).ToArray(), dw, 1e-5, "dW");
        AssertClose(rdb.Zip(db0, (r, s) => r + s).ToArray(), db, 1e-5, "db");
        // without a bias
        var dwAlone = new float[wt.Length];
        DirectConvolution.WeightGradient(dy, x, g, cout, dwAlone, default, width.ToSimd());
        AssertClose(rdw, dwAlone, 1e-5, "dW without db");
    }

    [Theory, MemberData(nameof(Cases))]
    public void WeightGradient_IsBitIdenticalAcrossThreadCounts(int n, int c, int h, int w, int cout, int k, int stride, int padding)
    {
        var g = new ConvGeometry(n, c, h, w, k, k, stride, padding);
        var (x, wt, dy) = Inputs(g, cout);
        float[] Run(int threads)
        {
            using var _ = ComputeSettings.Use(new ComputeSettings(threads));
            var (dw, db) = (new float[wt.Length], new float[cout]);
            DirectConvolution.WeightGradient(dy, x, g, cout, dw, db);
            return [.. dw, .. db];
        }
        var one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));
    }

    /// <summary>Channel tiles: every dW element the bits of its summation order. Within a group, two FMA chains over the
    /// group's valid output positions (images, rows, columns), one over the even positions and one over the odd, then their
    /// sum; the groups' sums added to dW in group order.</summary>
    [Theory]
    [InlineData(20, 64, 7, 7, 64, 3, 1, 1)]
    [InlineData(9, 32, 14, 14, 64, 3, 2, 1)]
    [InlineData(3, 4, 9, 7, 96, 5, 1, 2)]
    [InlineData(2, 3, 10, 10, 32, 3, 3, 0)]
    public void ChannelTiles_GiveTheBitsOfTheirSummationOrder(int n, int c, int h, int w, int cout, int k, int stride, int padding)
    {
        if (!Simd512.IsSupported) return; // channel tiles run only with 16-wide vectors
        var g = new ConvGeometry(n, c, h, w, k, k, stride, padding);
        var (x, wt, dy) = Inputs(g, cout);
        var dw = new float[wt.Length];
        DirectConvolution.WeightGradient(dy, x, g, cout, dw, default, SimdWidth.W512);
        int images = DirectConvolution.WeightGradientImagesPerGroup(g, cout, SimdWidth.W512);
        Assert.Equal(InChainOrder(x, dy, g, cout, images), dw);
    }

    // -> dw (cout, c, k, k) summed in the channel tiles' order
    private static float[] InChainOrder(float[] x, float[] dy, ConvGeometry g, int cout, int images)
    {
        var dw = new float[cout * g.PatchSize];
        int plane = g.OutPlane;
        for (int first = 0; first < g.N; first += images)
        {
            int count = Math.Min(images, g.N - first);
            for (int o = 0; o < cout; o++)
                for (int t = 0; t < g.PatchSize; t++)
                {
                    int ci = t / (g.KH * g.KW), kh = t / g.KW % g.KH, kw = t % g.KW;
                    float even = 0f, odd = 0f;
                    for (int p = 0; p < count * plane; p++)
                    {
                        int image = first + p / plane, i = p % plane / g.OutW, j = p % g.OutW;
                        int row = i * g.Stride - g.Padding + kh, col = j * g.Stride - g.Padding + kw;
                        float xv = row >= 0 && row < g.H && col >= 0 && col < g.W ? x[((image * g.C + ci) * g.H + row) * g.W + col] : 0f;
                        float d = dy[(image * cout + o) * plane + i * g.OutW + j];
                        if (p % 2 == 0) even = MathF.FusedMultiplyAdd(xv, d, even);
                        else odd = MathF.FusedMultiplyAdd(xv, d, odd);
                    }
                    dw[o * g.PatchSize + t] += even + odd;
                }
        }
        return dw;
    }

    [Fact]
    public void WrongSizesOrGeometry_Throw()
    {
        var g = new ConvGeometry(2, 3, 6, 6, 3, 3, 1, 1);
        int cout = 4;
        var (x, wt, dy) = Inputs(g, cout);
        var ex = Assert.Throws<ArgumentException>(() => DirectConvolution.WeightGradient(dy, x.AsSpan(1), g, cout, new float[wt.Length], default));
        Assert.Contains($"x {x.Length - 1} (expected {x.Length})", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => DirectConvolution.WeightGradient(dy, x, g, cout, new float[wt.Length], new float[3]));
        Assert.Contains("db 3 (4 or 0)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => DirectConvolution.WeightGradient(dy, x, g with { Padding = 3 }, cout, new float[wt.Length], default));
        Assert.Contains("padding below it", ex.Message);
    }

    private static (float[] X, float[] W, float[] Dy) Inputs(ConvGeometry g, int cout) =>
        (RandomNormal(g.N * g.C * g.H * g.W, 1), RandomNormal(cout * g.PatchSize, 2, 0, 0.3), RandomNormal(g.N * cout * g.OutPlane, 4));
}
