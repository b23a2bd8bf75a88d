using NormNet.Kernels;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>ReLU fused into the convolutions' epilogues gives the bits of the convolution followed by the ReLU kernel,
/// on both paths (direct at every vector width and several strides, with and without bias; im2col plus products), NaN included.</summary>
public class FusedActivationTests
{
    public static IEnumerable<object[]> DirectCases() =>
        from object[] w in KernelWidths.Supported()
        from object[] c in DirectConvolutionTests.Cases.Select(c => c.Take(6).Append(1).Append(c[6]).ToArray())
            .Concat(DirectConvolutionTests.StridedCases)
        from bias in new[] { true, false }
        select w.Concat(c).Append(bias).ToArray();

    [Theory, MemberData(nameof(DirectCases))]
    public void Direct_FusedRelu_IsTheReluOfTheForward(Width width, int n, int c, int h, int w, int cout, int k, int stride, int padding, bool bias)
    {
        var g = new ConvGeometry(n, c, h, w, k, k, stride, padding);
        var (x, wt, b) = Inputs(g, cout, bias);
        var y = new float[n * cout * g.OutPlane];
        var fused = new float[y.Length];
        DirectConvolution.Forward(x, wt, b, g, cout, y, width.ToSimd());
        DirectConvolution.Forward(x, wt, b, g, cout, fused, width.ToSimd(), FusedActivation.Relu);
        AssertIsRelu(y, fused);
    }

    [Theory, MemberData(nameof(ConvolutionKernelTests.Cases), MemberType = typeof(ConvolutionKernelTests))]
    public void Im2Col_FusedRelu_IsTheReluOfTheForward(int n, int c, int h, int w, int cout, int k, int stride, int padding)
    {
        var g = new ConvGeometry(n, c, h, w, k, k, stride, padding);
        var (x, wt, b) = Inputs(g, cout, bias: true);
        var cols = new float[g.N * g.PatchSize * g.OutPlane];
        var y = new float[n * cout * g.OutPlane];
        var fused = new float[y.Length];
        ConvolutionKernels.Forward(x, wt, b, g, cout, cols, y);
        ConvolutionKernels.Forward(x, wt, b, g, cout, cols, fused, FusedActivation.Relu);
        AssertIsRelu(y, fused);
    }

    [Fact]
    public void FusedRelu_PropagatesNaN_AsTheReluKernelDoes()
    {
        var g = new ConvGeometry(1, 32, 6, 6, 3, 3, 1, 1);
        var (x, wt, b) = Inputs(g, 8, bias: true);
        x[3 * 36 + 14] = float.NaN; // reaches the 3x3 window around (2, 2) of every output channel
        var y = new float[8 * 36];
        var fused = new float[y.Length];
        DirectConvolution.Forward(x, wt, b, g, 8, y);
        DirectConvolution.Forward(x, wt, b, g, 8, fused, FusedActivation.Relu);
        Assert.Contains(fused, float.IsNaN);
        AssertIsRelu(y, fused);
    }

    /// <summary>fused == ReLU(y) bit for bit, on outputs that have both signs (so the ReLU changed something; all but the
    /// single-pixel case have more than 16 values).</summary>
    private static void AssertIsRelu(float[] y, float[] fused)
    {
        if (y.Length > 16)
        {
            Assert.Contains(y, v => v < 0);
            Assert.Contains(y, v => v > 0);
        }
        var expected = new float[y.Length];
        Activations.Forward(Activations.Kind.Relu, y, expected);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), fused.Select(BitConverter.SingleToInt32Bits));
    }

    private static (float[] X, float[] W, float[] B) Inputs(ConvGeometry g, int cout, bool bias) =>
        (RandomNormal(g.N * g.C * g.H * g.W, 1), RandomNormal(cout * g.PatchSize, 2, 0, 0.3), bias ? RandomNormal(cout, 3) : []);
}
