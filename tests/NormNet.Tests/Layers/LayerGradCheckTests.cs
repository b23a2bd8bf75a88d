using NormNet.Kernels;
using static NormNet.Tests.Kernels.BatchNormGradCheckTests;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>
/// Central-difference gradient checks, in double precision with random upstream gradients, of the reference
/// passes of every layer and loss; <see cref="LayerReferenceTests"/> then holds the fast float layers to them.
/// </summary>
public class LayerGradCheckTests
{
    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    [Fact]
    public void Linear()
    {
        int n = 4, inF = 5, outF = 3;
        var x = RandomNormalDouble(n * inF, 1);
        var w = RandomNormalDouble(outF * inF, 2);
        var b = RandomNormalDouble(outF, 3);
        var g = RandomNormalDouble(n * outF, 4);
        double L(double[] xs, double[] ws, double[] bs)
        {
            var y = new double[n * outF];
            LayerReference.LinearForward(xs, ws, bs, n, inF, outF, y);
            return Dot(y, g);
        }
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        var db = new double[b.Length];
        LayerReference.LinearBackward(g, x, w, n, inF, outF, dx, dw, db);
        CheckNumeric(x, dx, v => L(v, w, b), "linear dx");
        CheckNumeric(w, dw, v => L(x, v, b), "linear dw");
        CheckNumeric(b, db, v => L(x, w, v), "linear db");
    }

    [Theory]
    [InlineData(3, 1, 0)]
    [InlineData(3, 2, 1)]
    [InlineData(2, 1, 0)]
    [InlineData(1, 1, 0)]
    public void Conv2d(int k, int stride, int padding)
    {
        var geo = new ConvGeometry(2, 3, 6, 5, k, k, stride, padding);
        int cout = 4;
        var x = RandomNormalDouble(geo.N * geo.C * geo.H * geo.W, 5);
        var w = RandomNormalDouble(cout * geo.C * k * k, 6);
        var b = RandomNormalDouble(cout, 7);
        var g = RandomNormalDouble(geo.N * cout * geo.OutPlane, 8);
        double L(double[] xs, double[] ws, double[] bs)
        {
            var y = new double[g.Length];
            LayerReference.Conv2dForward(xs, ws, bs, geo, cout, y);
            return Dot(y, g);
        }
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        var db = new double[b.Length];
        LayerReference.Conv2dBackward(g, x, w, geo, cout, dx, dw, db);
        CheckNumeric(x, dx, v => L(v, w, b), "conv dx");
        CheckNumeric(w, dw, v => L(x, v, b), "conv dw");
        CheckNumeric(b, db, v => L(x, w, v), "conv db");
    }

    [Theory]
    [InlineData(false, 2, 2, 0)]
    [InlineData(false, 3, 2, 1)]
    [InlineData(true, 2, 2, 0)]
    [InlineData(true, 3, 2, 1)]
    [InlineData(true, 6, 1, 0)] // global average pooling of a 6x6 plane
    public void Pooling(bool avg, int k, int stride, int padding)
    {
        var geo = new ConvGeometry(2, 3, 6, 6, k, k, stride, padding);
        var x = RandomNormalDouble(geo.N * geo.C * 36, 9);
        var g = RandomNormalDouble(geo.N * geo.C * geo.OutPlane, 10);
        double L(double[] xs)
        {
            var y = new double[g.Length];
            LayerReference.PoolForward(xs, geo, avg, y);
            return Dot(y, g);
        }
        var dx = new double[x.Length];
        LayerReference.PoolBackward(g, x, geo, avg, dx);
        CheckNumeric(x, dx, L, avg ? "avgpool dx" : "maxpool dx");
    }

    [Theory]
    [InlineData(Activations.Kind.Relu)]
    [InlineData(Activations.Kind.Sigmoid)]
    [InlineData(Activations.Kind.Tanh)]
    public void Activation(Activations.Kind kind)
    {
        var x = RandomNormalDouble(40, 11, 0, 2);
        var g = RandomNormalDouble(40, 12);
        double L(double[] xs) => xs.Select((v, i) => LayerReference.Activate(kind, v) * g[i]).Sum();
        var dx = x.Select((v, i) => LayerReference.ActivateDerivative(kind, v) * g[i]).ToArray();
        CheckNumeric(x, dx, L, $"{kind} dx");
    }

    [Fact]
    public void CrossEntropy()
    {
        int n = 5, c = 4;
        var logits = RandomNormalDouble(n * c, 13, 0, 3);
        int[] labels = [0, 3, 1, 1, 2];
        var grad = new double[n * c];
        LayerReference.CrossEntropy(logits, labels, c, grad);
        CheckNumeric(logits, grad, v => LayerReference.CrossEntropy(v, labels, c, default), "cross-entropy dlogits");
    }
}
