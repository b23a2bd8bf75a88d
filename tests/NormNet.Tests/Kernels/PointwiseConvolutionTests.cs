using NormNet.Kernels;
using NormNet.Layers;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>The 1x1 convolution read in place: bit for bit against a float reference that is one FMA chain per output
/// (then the bias, the addend, the activation), at every vector width, on planes read in place (whole vectors at stride
/// 1) and through the scratch (a stride-1 tail; stride 2 with rows of at most 32, by permutes, and wider, by
/// <see cref="Shuffles.TakeEven"/>; stride 3), tiles of 4, 2 and 1 vectors with a partial last one, output channels not a
/// multiple of the 4-row panel; close to the double reference; the bits of im2col plus the product; the same bits on 1 to
/// 3 threads, one image split among the workers; non-finite inputs as the chain gives them; and wrong sizes refused.</summary>
public class PointwiseConvolutionTests
{
    /// <summary>n, c, h, w, cout, stride.</summary>
    public static TheoryData<int, int, int, int, int, int> Cases => new()
    {
        { 2, 16, 28, 28, 32, 2 }, // the resnet's first shortcut: 14x14 from rows of 28 (permutes), 196 positions
        { 3, 32, 14, 14, 64, 2 }, // the resnet's second: 7x7, one 4-vector tile whose last vector holds one position
        { 2, 8, 16, 16, 12, 1 },  // stride 1, 256 positions: read in place
        { 2, 5, 7, 7, 6, 1 },     // stride 1, 49 positions: through the scratch; Cout 6, a partial panel
        { 1, 3, 32, 32, 5, 2 },   // rows of 32: the permute's every lane; 16x16 output
        { 2, 3, 7, 9, 6, 1 },     // 63 positions: a last vector of 15 (at 16 wide)
        { 1, 3, 40, 38, 5, 2 },   // rows of 38: TakeEven; 20x19 output
        { 2, 4, 11, 13, 7, 3 },   // stride 3: element by element; 4x5 output
        { 1, 2, 1, 1, 3, 1 },     // a single pixel
        { 1, 6, 3, 3, 4, 2 },     // 2x2 output
        { 20, 16, 12, 12, 8, 1 }, // on the workers
    };

    public static IEnumerable<object[]> CasesAtEveryWidth() =>
        from object[] w in KernelWidths.Supported() from object[] c in Cases select w.Concat(c).ToArray();

    [Theory, MemberData(nameof(CasesAtEveryWidth))]
    public void Forward_IsTheFmaChainBitForBit_AndCloseToTheReference(Width width, int n, int c, int h, int w, int cout, int stride)
    {
        var g = new ConvGeometry(n, c, h, w, 1, 1, stride, 0);
        var (x, wt, b, r) = Inputs(g, cout);
        foreach (var activation in new[] { FusedActivation.None, FusedActivation.Relu })
            foreach (bool bias in new[] { true, false })
                foreach (bool addend in new[] { false, true })
                {
                    var y = Enumerable.Repeat(float.NaN, n * cout * g.OutPlane).ToArray();
                    PointwiseConvolution.Forward(x, wt, bias ? b : default, addend ? r : default, g, cout, y, width.ToSimd(), activation);
                    var expected = Chain(x, wt, bias ? b : null, addend ? r : null, g, cout, activation);
                    Assert.Equal(expected, y);
                }
        var plain = new float[n * cout * g.OutPlane];
        PointwiseConvolution.Forward(x, wt, b, default, g, cout, plain, width.ToSimd());
        var reference = new double[plain.Length];
        LayerReference.Conv2dForward(ToDouble(x), ToDouble(wt), ToDouble(b), g, cout, reference);
        AssertClose(reference, plain, 1e-5, "y");
    }

    [Theory, MemberData(nameof(Cases))]
    public void Forward_GivesTheBitsOfIm2ColAndTheProduct(int n, int c, int h, int w, int cout, int stride)
    {
        var g = new ConvGeometry(n, c, h, w, 1, 1, stride, 0);
        var (x, wt, b, _) = Inputs(g, cout);
        var y = new float[n * cout * g.OutPlane];
        PointwiseConvolution.Forward(x, wt, b, default, g, cout, y, FusedActivation.Relu);
        var products = new float[y.Length];
        ConvolutionKernels.Forward(x, wt, b, g, cout, new float[n * c * g.OutPlane], products, FusedActivation.Relu);
        Assert.Equal(products, y);
    }

    [Theory]
    [InlineData(20, 16, 12, 12, 8, 1)]
    [InlineData(1, 128, 14, 14, 128, 1)] // one image of 51 MFLOP: its 32 channel blocks split among the workers
    [InlineData(3, 64, 28, 28, 40, 2)]
    public void Forward_IsBitIdenticalAcrossThreadCounts(int n, int c, int h, int w, int cout, int stride)
    {
        var g = new ConvGeometry(n, c, h, w, 1, 1, stride, 0);
        var (x, wt, b, r) = Inputs(g, cout);
        float[] Run(int threads) => WithThreads(threads, () =>
        {
            var y = new float[n * cout * g.OutPlane];
            PointwiseConvolution.Forward(x, wt, b, r, g, cout, y, FusedActivation.Relu);
            return y;
        });
        var one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));
    }

    [Fact]
    public void NonFiniteInputs_GiveTheChainsValues()
    {
        var g = new ConvGeometry(2, 4, 6, 6, 1, 1, 2, 0);
        var (x, wt, b, r) = Inputs(g, 5);
        x[0] = float.NaN;
        x[7] = float.PositiveInfinity;
        x[2 * 36 + 14] = float.NegativeInfinity;
        b[3] = float.PositiveInfinity;
        r[1] = float.NaN;
        var y = new float[2 * 5 * 9];
        PointwiseConvolution.Forward(x, wt, b, r, g, 5, y, FusedActivation.Relu);
        Assert.Equal(Chain(x, wt, b, r, g, 5, FusedActivation.Relu), y);
        Assert.Contains(y, float.IsNaN);
        Assert.Contains(y, float.IsPositiveInfinity);
    }

    [Fact]
    public void Layer_RunsOneByOneConvolutionsHere_ForwardAndBackwardMatchingTheReference()
    {
        var g = new ConvGeometry(3, 6, 9, 9, 1, 1, 2, 0);
        Assert.True(PointwiseConvolution.Supports(g));
        Assert.False(PointwiseConvolution.Supports(g with { Padding = 1 }));
        Assert.False(PointwiseConvolution.Supports(g with { KH = 3, KW = 3 }));
        var conv = new Conv2d(6, 10, 1, 2, rng: new Rng(1));
        var x = Tensor.FromArray(RandomNormal(g.N * 6 * 81, 5), 3, 6, 9, 9);
        var y = conv.Forward(x);
        var w = conv.Weight.Value.ReadOnlySpan.ToArray();
        var fast = new float[y.Length];
        PointwiseConvolution.Forward(x.ReadOnlySpan, w, conv.Bias!.Value.ReadOnlySpan, default, g, 10, fast);
        Assert.Equal(fast, y.ReadOnlySpan.ToArray());
        var dy = RandomNormal(y.Length, 6);
        var dx = conv.Backward(Tensor.FromArray(dy, y.Shape)).ReadOnlySpan.ToArray();
        var (rdx, rdw, rdb) = (new double[x.Length], new double[w.Length], new double[10]);
        LayerReference.Conv2dBackward(ToDouble(dy), ToDouble(x.ReadOnlySpan.ToArray()), ToDouble(w), g, 10, rdx, rdw, rdb);
        AssertClose(rdx, dx, 1e-5, "dx");
        AssertClose(rdw, conv.Weight.Grad.ReadOnlySpan.ToArray(), 1e-5, "dW");
        AssertClose(rdb, conv.Bias.Grad.ReadOnlySpan.ToArray(), 1e-5, "db");
    }

    [Fact]
    public void UnsupportedGeometryOrWrongSizes_Throw()
    {
        var g = new ConvGeometry(1, 2, 5, 5, 1, 1, 2, 0);
        var ex = Assert.Throws<ArgumentException>(() => PointwiseConvolution.Forward(new float[50], new float[6], default, default, g with { Padding = 1 }, 3, new float[27]));
        Assert.Contains("1x1 kernel without padding", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => PointwiseConvolution.Forward(new float[49], new float[6], default, default, g, 3, new float[27]));
        Assert.Contains("x 49 (expected 50)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => PointwiseConvolution.Forward(new float[50], new float[6], new float[2], default, g, 3, new float[27]));
        Assert.Contains("b 2 (3 or 0)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => PointwiseConvolution.Forward(new float[50], new float[6], default, new float[26], g, 3, new float[27]));
        Assert.Contains("addend 26 (27 or 0)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => PointwiseConvolution.Forward(new float[50], new float[5], default, default, g, 3, new float[27]));
        Assert.Contains("w 5 (6)", ex.Message);
    }

    // y[n, o, q] = f(((fma chain over c of w[o, c] * x[n, c, s*i, s*j], from +0) + b[o]) + r[n, o, q]), the bias and the addend skipped where absent
    private static float[] Chain(float[] x, float[] w, float[]? b, float[]? r, ConvGeometry g, int cout, FusedActivation activation)
    {
        var y = new float[g.N * cout * g.OutPlane];
        for (int n = 0; n < g.N; n++)
            for (int o = 0; o < cout; o++)
                for (int i = 0; i < g.OutH; i++)
                    for (int j = 0; j < g.OutW; j++)
                    {
                        float acc = 0f;
                        for (int c = 0; c < g.C; c++)
                            acc = MathF.FusedMultiplyAdd(w[o * g.C + c], x[((n * g.C + c) * g.H + i * g.Stride) * g.W + j * g.Stride], acc);
                        int at = ((n * cout + o) * g.OutH + i) * g.OutW + j;
                        if (b is not null) acc += b[o];
                        if (r is not null) acc += r[at];
                        y[at] = activation == FusedActivation.Relu ? (float.IsNaN(acc) ? acc : MathF.Max(acc, 0f)) : acc;
                    }
        return y;
    }

    private static (float[] X, float[] W, float[] B, float[] R) Inputs(ConvGeometry g, int cout) =>
        (RandomNormal(g.N * g.C * g.H * g.W, 1), RandomNormal(cout * g.C, 2, 0, 0.3), RandomNormal(cout, 3), RandomNormal(g.N * cout * g.OutPlane, 4));
}
