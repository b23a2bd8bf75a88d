using NormNet.Kernels;
using NormNet.Layers;
using NormNet.Threading;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>The direct stride-1 convolution (forward and input gradient) and the weight gradient that unfolds its own
/// columns, against the double reference at every vector width, on shapes whose padded-width outputs end in every kind of
/// tail (full 4-vector tiles, one-vector tiles, a partial vector), output channels not a multiple of the 4-row tile,
/// 1x1, 3x3 and 5x5 kernels with and without padding, padded rows gathered in registers (up to 32) and by row copies (wider),
/// one image split among the workers by output channels; the forward and
/// the input gradient at strides 2 and 3 (stride-phase planes; one stride-1 convolution per phase of the input pixels); and
/// bit-identical results for 1, 2 and 3 threads.</summary>
public class DirectConvolutionTests
{
    public static TheoryData<int, int, int, int, int, int, int> Cases => new()
    {
        { 3, 32, 14, 14, 16, 3, 1 },  // the cnn's second convolution's shape, smaller batch
        { 2, 5, 7, 9, 6, 3, 1 },      // Cout 6: a partial 4-row panel; odd sizes
        { 2, 3, 8, 5, 4, 3, 0 },      // no padding
        { 1, 4, 11, 13, 7, 5, 2 },    // 5x5, padding 2
        { 2, 6, 5, 5, 3, 5, 4 },      // padding k - 1: the input gradient has padding 0
        { 3, 8, 6, 6, 9, 1, 0 },      // 1x1
        { 1, 2, 1, 1, 1, 3, 1 },      // a single pixel
        { 24, 16, 20, 20, 8, 3, 1 },  // on the workers
        { 1, 32, 28, 28, 48, 3, 1 },  // one image of 22 MFLOP: its 12 channel blocks split among the workers
        { 1, 32, 14, 14, 64, 3, 1 },  // one image of 7 MFLOP (the cnn's second convolution): its two 32-channel blocks split
        { 2, 8, 13, 13, 32, 3, 1 },   // channel tiles (16-wide vectors): rows of 13 in runs of 7, 4 and 2
        { 1, 96, 15, 15, 64, 3, 1 },  // channel tiles: runs of 14 and 1; one image's two 32-channel blocks split among the workers
        { 2, 64, 7, 7, 64, 3, 1 },    // the resnet's last stage: channel tiles of 7 positions
        { 1, 4, 9, 9, 32, 5, 2 },     // channel tiles with a 5x5 kernel
        { 2, 3, 6, 35, 5, 3, 1 },     // padded rows of 37: gathered by row copies, not in two registers
        { 1, 3, 5, 15, 4, 3, 1 },     // padded rows of 17: one lane into the second register
    };

    /// <summary>n, c, h, w, cout, k, stride, padding: forwards at strides above 1.</summary>
    public static TheoryData<int, int, int, int, int, int, int, int> StridedCases => new()
    {
        { 2, 16, 28, 28, 32, 3, 2, 1 }, // the resnet's first downsampling convolution, smaller batch
        { 3, 5, 9, 7, 6, 3, 2, 1 },     // odd sizes: phase planes of unequal valid extents; a partial 4-row panel
        { 2, 4, 11, 13, 7, 5, 3, 2 },   // 5x5, stride 3
        { 2, 32, 7, 7, 9, 1, 2, 0 },    // 1x1, stride 2: only phase (0, 0) is read
        { 1, 4, 6, 6, 5, 3, 2, 0 },     // no padding
        { 1, 3, 2, 2, 2, 3, 2, 1 },     // a single output pixel
        { 24, 16, 14, 14, 8, 3, 2, 1 }, // on the workers
        { 2, 32, 14, 14, 64, 3, 2, 1 }, // the resnet's second downsampling convolution: channel tiles over phase planes (and for dx's phases)
        { 1, 32, 13, 15, 8, 3, 2, 1 },  // dx's phases in channel tiles: rows of 8 and 7 (runs of 7, 1; 4, 2, 1), 7 and 6 rows
        { 2, 32, 11, 11, 4, 5, 3, 2 },  // dx's nine phases in channel tiles at stride 3, 5x5
        { 2, 3, 7, 37, 5, 3, 2, 1 },    // padded rows of 39: split by DeinterleaveRow, not in two registers
        { 1, 4, 9, 28, 6, 5, 2, 2 },    // padded rows of exactly 32, padding 2
    };

    public static IEnumerable<object[]> StridedCasesAtEveryWidth() =>
        from object[] w in KernelWidths.Supported() from object[] c in StridedCases select w.Concat(c).ToArray();

    [Theory, MemberData(nameof(StridedCasesAtEveryWidth))]
    public void DirectForward_AtStridesAboveOne_MatchesReference(Width width, int n, int c, int h, int w, int cout, int k, int stride, int padding)
    {
        var g = new ConvGeometry(n, c, h, w, k, k, stride, padding);
        Assert.True(DirectConvolution.Supports(g));
        Assert.True(DirectConvolution.SupportsInputGradient(g));
        var (x, wt, b, dy) = Inputs(g, cout);
        var y = new float[n * cout * g.OutPlane];
        DirectConvolution.Forward(x, wt, b, g, cout, y, width.ToSimd());
        var ry = new double[y.Length];
        LayerReference.Conv2dForward(ToDouble(x), ToDouble(wt), ToDouble(b), g, cout, ry);
        AssertClose(ry, y, 1e-5, "y");
        var threads = new float[y.Length];
        WithThreads(1, () => { DirectConvolution.Forward(x, wt, b, g, cout, threads, width.ToSimd()); return 0; });
        Assert.Equal(y, threads);
        // the input gradient, one stride-1 convolution per phase of the input pixels; every pixel written (dx starts as NaN)
        var dx = Enumerable.Repeat(float.NaN, x.Length).ToArray();
        DirectConvolution.InputGradient(dy, wt, g, cout, dx, width.ToSimd());
        var (rdx, rdw, rdb) = (new double[x.Length], new double[wt.Length], new double[cout]);
        LayerReference.Conv2dBackward(ToDouble(dy), ToDouble(x), ToDouble(wt), g, cout, rdx, rdw, rdb);
        AssertClose(rdx, dx, 1e-5, "dx");
        var dxThreads = new float[x.Length];
        WithThreads(1, () => { DirectConvolution.InputGradient(dy, wt, g, cout, dxThreads, width.ToSimd()); return 0; });
        Assert.Equal(dx, dxThreads);
    }

    [Theory, MemberData(nameof(StridedCases))]
    public void BackwardFromInput_GivesTheBitsOfTheBackwardThatKeptColumns(int n, int c, int h, int w, int cout, int k, int stride, int padding)
    {
        var g = new ConvGeometry(n, c, h, w, k, k, stride, padding);
        var (x, wt, b, dy) = Inputs(g, cout);
        var (dx, dw, db) = (new float[x.Length], new float[wt.Length], new float[cout]);
        ConvolutionKernels.BackwardFromInput(dy, x, wt, g, cout, dx, dw, db);
        var cols = new float[g.N * g.PatchSize * g.OutPlane];
        var (y, dx2, dw2, db2) = (new float[dy.Length], new float[x.Length], new float[wt.Length], new float[cout]);
        ConvolutionKernels.Forward(x, wt, b, g, cout, cols, y);
        ConvolutionKernels.Backward(dy, cols, wt, g, cout, dx2, dw2, db2);
        Assert.Equal(dx2, dx);
        Assert.Equal(dw2, dw);
        Assert.Equal(db2, db);
        Assert.Contains(dx, v => v != 0f);
    }

    public static IEnumerable<object[]> CasesAtEveryWidth() =>
        from object[] w in KernelWidths.Supported() from object[] c in Cases select w.Concat(c).ToArray();

    [Theory, MemberData(nameof(CasesAtEveryWidth))]
    public void Direct_MatchesReference(Width width, int n, int c, int h, int w, int cout, int k, int padding)
    {
        var g = new ConvGeometry(n, c, h, w, k, k, 1, padding);
        Assert.True(DirectConvolution.Supports(g));
        var (x, wt, b, dy) = Inputs(g, cout);
        var y = new float[n * cout * g.OutPlane];
        var dx = new float[x.Length];
        DirectConvolution.Forward(x, wt, b, g, cout, y, width.ToSimd());
        DirectConvolution.InputGradient(dy, wt, g, cout, dx, width.ToSimd());
        var ry = new double[y.Length];
        LayerReference.Conv2dForward(ToDouble(x), ToDouble(wt), ToDouble(b), g, cout, ry);
        var (rdx, rdw, rdb) = (new double[x.Length], new double[wt.Length], new double[cout]);
        LayerReference.Conv2dBackward(ToDouble(dy), ToDouble(x), ToDouble(wt), g, cout, rdx, rdw, rdb);
        AssertClose(ry, y, 1e-5, "y");
        AssertClose(rdx, dx, 1e-5, "dx");
    }

    [Theory, MemberData(nameof(Cases))]
    public void WeightGradientFromInput_MatchesReferenceAndTheKeptColumnsPath(int n, int c, int h, int w, int cout, int k, int padding)
    {
        var g = new ConvGeometry(n, c, h, w, k, k, 1, padding);
        var (x, wt, b, dy) = Inputs(g, cout);
        var (dw, db) = (new float[wt.Length], new float[cout]);
        ConvolutionKernels.WeightGradient(dy, x, g, cout, dw, db);
        var (rdx, rdw, rdb) = (new double[x.Length], new double[wt.Length], new double[cout]);
        LayerReference.Conv2dBackward(ToDouble(dy), ToDouble(x), ToDouble(wt), g, cout, rdx, rdw, rdb);
        AssertClose(rdw, dw, 1e-5, "dW");
        AssertClose(rdb, db, 1e-5, "db");
        // the same chunks and order as the backward that reads the forward's columns: the same bits
        var cols = new float[g.N * g.PatchSize * g.OutPlane];
        var (y, dw2, db2) = (new float[dy.Length], new float[wt.Length], new float[cout]);
        ConvolutionKernels.Forward(x, wt, b, g, cout, cols, y);
        ConvolutionKernels.Backward(dy, cols, wt, g, cout, default, dw2, db2);
        Assert.Equal(dw2, dw);
        Assert.Equal(db2, db);
    }

    /// <summary>n, c, h, w, cout, k, stride, padding: shapes whose outputs (forward) or input gradients run in channel tiles
    /// where vectors are 16 wide.</summary>
    public static TheoryData<int, int, int, int, int, int, int, int> ChannelTileCases => new()
    {
        { 2, 8, 13, 13, 32, 3, 1, 1 },  // runs of 7, 4, 2
        { 1, 96, 15, 15, 64, 3, 1, 1 }, // runs of 14 and 1, blocks split among the workers (25 MFLOP)
        { 2, 64, 7, 7, 64, 3, 1, 1 },   // forward and input gradient both in channel tiles; rows of 7 in pairs and one alone
        { 2, 32, 8, 7, 32, 3, 1, 1 },   // rows of 7, all in pairs
        { 2, 32, 14, 14, 64, 3, 2, 1 }, // stride 2
        { 3, 32, 10, 10, 32, 3, 1, 0 }, // no padding: rows of 8
    };

    [Theory, MemberData(nameof(ChannelTileCases))]
    public void ChannelTiles_GiveTheBitsOfThePaddedWidthTilesAtEveryWidth(int n, int c, int h, int w, int cout, int k, int stride, int padding)
    {
        var g = new ConvGeometry(n, c, h, w, k, k, stride, padding);
        Assert.Equal(Simd512.IsSupported, DirectConvolution.UsesChannelTiles(SimdWidth.W512, g, cout));
        Assert.False(DirectConvolution.UsesChannelTiles(SimdWidth.W256, g, cout));
        var (x, wt, b, dy) = Inputs(g, cout);
        var addend = RandomNormal(dy.Length, 9);
        x[x.Length / 2] = float.NaN;
        float[][] Outputs(SimdWidth width)
        {
            var (y, relu, sum, sumNoBias, dx) = (new float[dy.Length], new float[dy.Length], new float[dy.Length], new float[dy.Length], new float[x.Length]);
            var pooled = new float[n * cout * (g.OutH / 2) * (g.OutW / 2)];
            DirectConvolution.Forward(x, wt, b, g, cout, y, width);
            DirectConvolution.Forward(x, wt, b, g, cout, relu, width, FusedActivation.Relu);
            DirectConvolution.ForwardAdd(x, wt, b, addend, g, cout, sum, width, FusedActivation.Relu);
            DirectConvolution.ForwardAdd(x, wt, [], addend, g, cout, sumNoBias, width);
            DirectConvolution.ForwardMaxPool2x2(x, wt, b, g, cout, pooled, width, FusedActivation.Relu);
            DirectConvolution.InputGradient(dy, wt, g, cout, dx, width);
            return [y, relu, sum, sumNoBias, pooled, dx];
        }
        var widths = (from object[] row in KernelWidths.Supported() select ((Width)row[0]).ToSimd()).ToArray();
        var widest = Outputs(widths[0]);
        foreach (var width in widths[1..])
        {
            var other = Outputs(width);
            for (int i = 0; i < widest.Length; i++) Assert.Equal(widest[i], other[i]);
        }
        var ry = new double[dy.Length];
        LayerReference.Conv2dForward(ToDouble(x), ToDouble(wt), ToDouble(b), g, cout, ry);
        Assert.Contains(widest[0], float.IsNaN);
        AssertClose(ry.Select(v => double.IsNaN(v) ? 0 : v).ToArray(), widest[0].Select(v => float.IsNaN(v) ? 0f : v).ToArray(), 1e-5, "y");
    }

    /// <summary>The weight gradient's four-at-once lane sums give each vector's <see cref="System.Runtime.Intrinsics.Vector512.Sum{T}"/>
    /// bit for bit, on lanes of mixed signs and magnitudes (where the order of the additions shows in the last bits).</summary>
    [Fact]
    public void WeightGradientLaneSums_AreThoseOfVector512Sum()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported) return; // the reduction is AVX-512's; other widths keep Sum
        var rng = new Random(5);
        System.Runtime.Intrinsics.Vector512<float> Next() =>
            System.Runtime.Intrinsics.Vector512.Create(Enumerable.Range(0, 16).Select(_ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-3, 6)))).ToArray());
        for (int i = 0; i < 2000; i++)
        {
            var (a, b, c, d) = (Next(), Next(), Next(), Next());
            var sums = DirectConvolution.Sums4(a, b, c, d);
            float[] expected = [System.Runtime.Intrinsics.Vector512.Sum(a), System.Runtime.Intrinsics.Vector512.Sum(b), System.Runtime.Intrinsics.Vector512.Sum(c), System.Runtime.Intrinsics.Vector512.Sum(d)];
            for (int j = 0; j < 4; j++) Assert.Equal(BitConverter.SingleToInt32Bits(expected[j]), BitConverter.SingleToInt32Bits(sums[j]));
        }
    }

    [Theory, MemberData(nameof(Cases))]
    public void Direct_IsBitIdenticalAcrossThreadCounts(int n, int c, int h, int w, int cout, int k, int padding)
    {
        var g = new ConvGeometry(n, c, h, w, k, k, 1, padding);
        var (x, wt, b, dy) = Inputs(g, cout);
        float[] Run(int threads, bool gradient)
        {
            using var _ = ComputeSettings.Use(new ComputeSettings(threads));
            var y = new float[gradient ? x.Length : dy.Length];
            if (gradient) DirectConvolution.InputGradient(dy, wt, g, cout, y);
            else DirectConvolution.Forward(x, wt, b, g, cout, y);
            return y;
        }
        Assert.Equal(Run(1, false), Run(2, false));
        Assert.Equal(Run(1, false), Run(3, false));
        Assert.Equal(Run(1, true), Run(2, true));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Layer_TakesTheDirectPathForWideKernelsAndMatchesTheReference(int stride)
    {
        var g = new ConvGeometry(4, 32, 9, 9, 3, 3, stride, 1);
        Assert.True(DirectConvolution.Preferred(g));
        Assert.True(DirectConvolution.Preferred(g with { C = 1 }));
        Assert.False(DirectConvolution.Preferred(g with { KH = 1, KW = 1, Padding = 0 }));
        Assert.True(DirectConvolution.Preferred(g with { Stride = 2 }));
        Assert.True(DirectConvolution.SupportsInputGradient(g with { Stride = 2 }));
        Assert.False(DirectConvolution.Supports(g with { Padding = 3 }));
        var conv = new Conv2d(32, 10, 3, stride, padding: 1, rng: new Rng(1));
        var x = Tensor.FromArray(RandomNormal(g.N * 32 * 81, 5), 4, 32, 9, 9);
        var y = conv.Forward(x);
        var dy = RandomNormal(y.Length, 6);
        var dx = conv.Backward(Tensor.FromArray(dy, y.Shape)).ReadOnlySpan.ToArray();
        var ry = new double[y.Length];
        var w = conv.Weight.Value.ReadOnlySpan.ToArray();
        LayerReference.Conv2dForward(ToDouble(x.ReadOnlySpan.ToArray()), ToDouble(w), ToDouble(conv.Bias!.Value.ReadOnlySpan.ToArray()), g, 10, ry);
        var (rdx, rdw, rdb) = (new double[x.Length], new double[w.Length], new double[10]);
        LayerReference.Conv2dBackward(ToDouble(dy), ToDouble(x.ReadOnlySpan.ToArray()), ToDouble(w), g, 10, rdx, rdw, rdb);
        AssertClose(ry, y.ReadOnlySpan.ToArray(), 1e-5, "y");
        AssertClose(rdx, dx, 1e-5, "dx");
        AssertClose(rdw, conv.Weight.Grad.ReadOnlySpan.ToArray(), 1e-5, "dW");
        AssertClose(rdb, conv.Bias.Grad.ReadOnlySpan.ToArray(), 1e-5, "db");
    }

    [Fact]
    public void UnsupportedGeometryOrWrongSizes_Throw()
    {
        var g = new ConvGeometry(1, 2, 5, 5, 3, 3, 2, 1);
        var ex = Assert.Throws<ArgumentException>(() => DirectConvolution.Forward(new float[50], new float[36], default, g with { Padding = 3 }, 2, new float[50]));
        Assert.Contains("padding below it", ex.Message);
        var ok = g with { Stride = 1 };
        ex = Assert.Throws<ArgumentException>(() => DirectConvolution.Forward(new float[49], new float[36], default, ok, 2, new float[50]));
        Assert.Contains("x 49 (expected 50)", ex.Message);
    }

    private static (float[] X, float[] W, float[] B, float[] Dy) Inputs(ConvGeometry g, int cout) =>
        (RandomNormal(g.N * g.C * g.H * g.W, 1), RandomNormal(cout * g.PatchSize, 2, 0, 0.3), RandomNormal(cout, 3),
            RandomNormal(g.N * cout * g.OutPlane, 4));
}
