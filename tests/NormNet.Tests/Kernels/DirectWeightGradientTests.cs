using NormNet.Kernels;
using NormNet.Threading;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>The direct weight gradient (<see cref="DirectConvolution.WeightGradient(ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, Span{float})"/>)
/// against the double reference at every vector width: strides 1, 2 and 3, output channels not a multiple of the 4-row
/// tile, tap counts not a multiple of the 6-tap tile (1x1, 3x3 with 1 channel, 5x5), padded-width outputs ending in a
/// partial vector, more images than one group holds; it accumulates into dW and db; the same bits for 1, 2 and 3
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
