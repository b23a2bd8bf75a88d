using NormNet.Kernels;
using NormNet.Threading;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>The chunked convolution (several images per product) against the per-image path and the double reference,
/// on shapes that give one-image chunks, several-image chunks, a short last chunk, strides, padding and odd sizes;
/// and bit-identical results for 1 and 2 threads.</summary>
public class ConvolutionKernelTests
{
    public static TheoryData<int, int, int, int, int, int, int, int> Cases => new()
    {
        { 5, 1, 28, 28, 8, 3, 1, 1 },   // patch 9: several images per chunk, odd batch
        { 3, 32, 14, 14, 16, 3, 1, 1 }, // patch 288: one image per chunk
        { 2, 16, 20, 20, 4, 3, 1, 1 },  // 400 pixels, patch 144: one image alone
        { 7, 3, 9, 7, 5, 3, 2, 0 },     // stride 2, no padding, odd sizes
        { 4, 4, 5, 6, 3, 1, 1, 0 },     // 1x1 kernel, patch 4: chunked
        { 9, 6, 11, 13, 7, 5, 2, 2 },   // 5x5, stride 2, padding 2
        { 1, 2, 4, 4, 3, 3, 1, 1 },     // batch 1
        { 40, 2, 6, 6, 3, 3, 1, 1 },    // many images per chunk
        { 64, 3, 14, 14, 32, 3, 1, 1 }, // patch 27, on the workers: chunks of 20 images, a short last one
        { 12, 8, 20, 20, 32, 3, 1, 1 },  // patch 72, on the workers, one image per chunk
    };

    [Theory, MemberData(nameof(Cases))]
    public void Chunked_MatchesPerImageAndReference(int n, int c, int h, int w, int cout, int k, int stride, int padding)
    {
        var g = new ConvGeometry(n, c, h, w, k, k, stride, padding);
        var (x, wt, b, dy) = Inputs(g, cout);
        var fast = Run(g, cout, x, wt, b, dy, chunked: true);
        var perImage = Run(g, cout, x, wt, b, dy, chunked: false);
        var ry = new double[fast.Y.Length];
        LayerReference.Conv2dForward(ToDouble(x), ToDouble(wt), ToDouble(b), g, cout, ry);
        var (rdx, rdw, rdb) = (new double[x.Length], new double[wt.Length], new double[cout]);
        LayerReference.Conv2dBackward(ToDouble(dy), ToDouble(x), ToDouble(wt), g, cout, rdx, rdw, rdb);
        AssertClose(ry, fast.Y, 1e-5, "y");
        AssertClose(rdx, fast.Dx, 1e-5, "dx");
        AssertClose(rdw, fast.Dw, 1e-5, "dW");
        AssertClose(rdb, fast.Db, 1e-5, "db");
        AssertClose(perImage.Y, fast.Y, 1e-5, "y vs per image");
        AssertClose(perImage.Dw, fast.Dw, 1e-5, "dW vs per image");
    }

    [Theory, MemberData(nameof(Cases))]
    public void Chunked_IsBitIdenticalAcrossThreadCounts(int n, int c, int h, int w, int cout, int k, int stride, int padding)
    {
        var g = new ConvGeometry(n, c, h, w, k, k, stride, padding);
        var (x, wt, b, dy) = Inputs(g, cout);
        Result one, two;
        using (ComputeSettings.Use(new ComputeSettings(1))) one = Run(g, cout, x, wt, b, dy, chunked: true);
        using (ComputeSettings.Use(new ComputeSettings(2))) two = Run(g, cout, x, wt, b, dy, chunked: true);
        Assert.Equal(one.Y, two.Y);
        Assert.Equal(one.Dx, two.Dx);
        Assert.Equal(one.Dw, two.Dw);
        Assert.Equal(one.Db, two.Db);
    }

    [Fact]
    public void ImagesPerChunk_DependsOnTheGeometryOnly()
    {
        Assert.Equal(1, ConvolutionKernels.ImagesPerChunk(new ConvGeometry(128, 16, 28, 28, 3, 3, 1, 1), 16));
        Assert.Equal(5, ConvolutionKernels.ImagesPerChunk(new ConvGeometry(128, 1, 28, 28, 3, 3, 1, 1), 32));
        Assert.Equal(2, ConvolutionKernels.ImagesPerChunk(new ConvGeometry(2, 1, 28, 28, 3, 3, 1, 1), 32));
    }

    private sealed record Result(float[] Y, float[] Dx, float[] Dw, float[] Db);

    private static (float[] X, float[] W, float[] B, float[] Dy) Inputs(ConvGeometry g, int cout) =>
        (RandomNormal(g.N * g.C * g.H * g.W, 1), RandomNormal(cout * g.PatchSize, 2, 0, 0.3), RandomNormal(cout, 3),
            RandomNormal(g.N * cout * g.OutPlane, 4));

    private static Result Run(ConvGeometry g, int cout, float[] x, float[] w, float[] b, float[] dy, bool chunked)
    {
        var cols = new float[g.N * g.PatchSize * g.OutPlane];
        var r = new Result(new float[g.N * cout * g.OutPlane], new float[x.Length], new float[w.Length], new float[cout]);
        if (chunked)
        {
            ConvolutionKernels.Forward(x, w, b, g, cout, cols, r.Y);
            ConvolutionKernels.Backward(dy, cols, w, g, cout, r.Dx, r.Dw, r.Db);
        }
        else
        {
            ConvolutionPerImage.Forward(x, w, b, g, cout, cols, r.Y);
            ConvolutionPerImage.Backward(dy, cols, w, g, cout, r.Dx, r.Dw, r.Db);
        }
        return r;
    }
}
