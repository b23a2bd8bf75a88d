using NormNet.Kernels;
using NormNet.Layers;
using NormNet.Losses;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>The float layers (vectorized, parallel, GEMM-based) against the double references, forward and backward.</summary>
public class LayerReferenceTests
{
    private static Tensor RandomTensor(int seed, double std, params int[] shape) =>
        Tensor.FromArray(RandomNormal(shape.Aggregate(1, (a, b) => a * b), seed, 0, std), shape);

    [Theory]
    [InlineData(7, 13, 5, true)]
    [InlineData(60, 784, 100, true)]
    [InlineData(3, 1, 1, false)]
    public void Linear_MatchesReference(int n, int inF, int outF, bool bias)
    {
        var layer = new Linear(inF, outF, bias, new Rng(1));
        var x = RandomTensor(2, 1, n, inF);
        var g = RandomTensor(3, 1, n, outF);
        var y = layer.Forward(x);
        var ry = new double[n * outF];
        var w = ToDouble(layer.Weight.Value.ReadOnlySpan);
        var b = bias ? ToDouble(layer.Bias!.Value.ReadOnlySpan) : [];
        LayerReference.LinearForward(ToDouble(x.ReadOnlySpan), w, b, n, inF, outF, ry);
        AssertClose(ry, y.ReadOnlySpan, 1e-5, "linear y");
        var dx = layer.Backward(g);
        var rdx = new double[n * inF];
        var rdw = new double[w.Length];
        var rdb = new double[b.Length];
        LayerReference.LinearBackward(ToDouble(g.ReadOnlySpan), ToDouble(x.ReadOnlySpan), w, n, inF, outF, rdx, rdw, rdb);
        AssertClose(rdx, dx.ReadOnlySpan, 1e-5, "linear dx");
        AssertClose(rdw, layer.Weight.Grad.ReadOnlySpan, 1e-5, "linear dW");
        if (bias) AssertClose(rdb, layer.Bias!.Grad.ReadOnlySpan, 1e-5, "linear db");
    }

    [Theory]
    [InlineData(2, 3, 8, 7, 4, 3, 1, 1)]
    [InlineData(3, 2, 9, 9, 5, 3, 2, 0)]
    [InlineData(2, 4, 5, 6, 3, 1, 1, 0)]
    [InlineData(4, 1, 28, 28, 8, 3, 1, 1)]
    public void Conv2d_MatchesReference(int n, int c, int h, int w, int cout, int k, int stride, int padding)
    {
        var layer = new Conv2d(c, cout, k, stride, padding, rng: new Rng(4));
        var geo = new ConvGeometry(n, c, h, w, k, k, stride, padding);
        var x = RandomTensor(5, 1, n, c, h, w);
        var g = RandomTensor(6, 1, n, cout, geo.OutH, geo.OutW);
        var y = layer.Forward(x);
        Assert.Equal([n, cout, geo.OutH, geo.OutW], y.Shape);
        var wt = ToDouble(layer.Weight.Value.ReadOnlySpan);
        var b = ToDouble(layer.Bias!.Value.ReadOnlySpan);
        var ry = new double[y.Length];
        LayerReference.Conv2dForward(ToDouble(x.ReadOnlySpan), wt, b, geo, cout, ry);
        AssertClose(ry, y.ReadOnlySpan, 1e-5, "conv y");
        for (int repeat = 0; repeat < 2; repeat++) // a second backward of the same forward must agree too
        {
            layer.ZeroGrad();
            var dx = layer.Backward(g);
            var rdx = new double[x.Length];
            var rdw = new double[wt.Length];
            var rdb = new double[cout];
            LayerReference.Conv2dBackward(ToDouble(g.ReadOnlySpan), ToDouble(x.ReadOnlySpan), wt, geo, cout, rdx, rdw, rdb);
            AssertClose(rdx, dx.ReadOnlySpan, 1e-5, "conv dx");
            AssertClose(rdw, layer.Weight.Grad.ReadOnlySpan, 1e-5, "conv dW");
            AssertClose(rdb, layer.Bias.Grad.ReadOnlySpan, 1e-5, "conv db");
        }
    }

    public static TheoryData<bool, int, int, int, int, int> PoolCases => new()
    {
        { false, 2, 2, 0, 8, 8 }, { false, 3, 2, 1, 7, 9 }, { false, 3, 1, 1, 5, 5 }, { false, 2, 2, 0, 64, 64 },
        { true, 2, 2, 0, 8, 8 }, { true, 3, 2, 1, 7, 9 }, { true, 2, 1, 0, 64, 64 },
    };

    [Theory, MemberData(nameof(PoolCases))]
    public void Pooling_MatchesReference(bool avg, int k, int stride, int padding, int h, int w)
    {
        Module layer = avg ? new AvgPool2d(k, stride, padding) : new MaxPool2d(k, stride, padding);
        var geo = new ConvGeometry(2, 3, h, w, k, k, stride, padding);
        var x = RandomTensor(7, 1, 2, 3, h, w);
        var g = RandomTensor(8, 1, 2, 3, geo.OutH, geo.OutW);
        var y = layer.Forward(x);
        var ry = new double[y.Length];
        LayerReference.PoolForward(ToDouble(x.ReadOnlySpan), geo, avg, ry);
        AssertClose(ry, y.ReadOnlySpan, 1e-6, "pool y");
        var dx = layer.Backward(g);
        var rdx = new double[x.Length];
        LayerReference.PoolBackward(ToDouble(g.ReadOnlySpan), ToDouble(x.ReadOnlySpan), geo, avg, rdx);
        AssertClose(rdx, dx.ReadOnlySpan, 1e-6, "pool dx");
    }

    [Fact]
    public void GlobalAvgPool_MatchesReference()
    {
        var layer = new GlobalAvgPool2d();
        var geo = new ConvGeometry(3, 4, 5, 6, 5, 6, 1, 0);
        var x = RandomTensor(9, 1, 3, 4, 5, 6);
        var g = RandomTensor(10, 1, 3, 4);
        var y = layer.Forward(x);
        Assert.Equal([3, 4], y.Shape);
        var ry = new double[12];
        LayerReference.PoolForward(ToDouble(x.ReadOnlySpan), geo, true, ry);
        AssertClose(ry, y.ReadOnlySpan, 1e-6, "gap y");
        var rdx = new double[x.Length];
        LayerReference.PoolBackward(ToDouble(g.ReadOnlySpan), ToDouble(x.ReadOnlySpan), geo, true, rdx);
        AssertClose(rdx, layer.Backward(g).ReadOnlySpan, 1e-6, "gap dx");
    }

    [Theory]
    [InlineData(Activations.Kind.Relu)]
    [InlineData(Activations.Kind.Sigmoid)]
    [InlineData(Activations.Kind.Tanh)]
    public void Activations_MatchReference_EveryLength(Activations.Kind kind)
    {
        for (int len = 1; len <= 70; len++)
            Check(kind, len, len);
        Check(kind, 100_003, 99); // several parallel chunks plus a tail
    }

    private static void Check(Activations.Kind kind, int len, int seed)
    {
        Module layer = kind switch { Activations.Kind.Relu => new ReLU(), Activations.Kind.Sigmoid => new Sigmoid(), _ => new Tanh() };
        var x = RandomTensor(seed, 3, len);
        var g = RandomTensor(seed + 1000, 1, len);
        var y = layer.Forward(x);
        var dx = layer.Backward(g);
        var xs = ToDouble(x.ReadOnlySpan);
        var gs = ToDouble(g.ReadOnlySpan);
        AssertClose(xs.Select(v => LayerReference.Activate(kind, v)).ToArray(), y.ReadOnlySpan, 2e-7, $"{kind} y len {len}", floor: 1);
        AssertClose(xs.Select((v, i) => LayerReference.ActivateDerivative(kind, v) * gs[i]).ToArray(), dx.ReadOnlySpan, 1e-6, $"{kind} dx len {len}", floor: 1);
    }

    [Fact]
    public void Relu_PropagatesNaN()
    {
        var y = new ReLU().Forward(Tensor.FromArray([float.NaN, -1, 2, float.NaN, .. new float[40]], 44));
        Assert.True(float.IsNaN(y[0]) && float.IsNaN(y[3]));
        Assert.Equal(0f, y[1]);
        Assert.Equal(2f, y[2]);
    }

    [Fact]
    public void CrossEntropy_MatchesReference_AndIsStable()
    {
        int n = 6, c = 10;
        var logits = RandomTensor(11, 4, n, c);
        logits[2, 3] = 1e4f; // would overflow a naive exp
        int[] labels = [0, 9, 3, 3, 5, 1];
        var ce = new CrossEntropyLoss();
        double loss = ce.Forward(logits, labels);
        var grad = new double[n * c];
        double rloss = LayerReference.CrossEntropy(ToDouble(logits.ReadOnlySpan), labels, c, grad);
        Assert.Equal(rloss, loss, 5);
        Assert.True(double.IsFinite(loss));
        AssertClose(grad, ce.Backward().ReadOnlySpan, 1e-6, "ce grad", floor: 0.1);
    }

    [Fact]
    public void CrossEntropy_BadLabels_Throw()
    {
        var ce = new CrossEntropyLoss();
        var logits = Tensor.Zeros(2, 3);
        Assert.Contains("label 3 at index 1", Assert.Throws<ArgumentException>(() => ce.Forward(logits, [0, 3])).Message);
        Assert.Contains("1 labels for 2 rows", Assert.Throws<ArgumentException>(() => ce.Forward(logits, [0])).Message);
        Assert.Throws<InvalidOperationException>(() => new CrossEntropyLoss().Backward());
    }

    [Fact]
    public void Mse_MatchesDefinition()
    {
        var p = RandomTensor(12, 1, 3, 4);
        var t = RandomTensor(13, 1, 3, 4);
        var mse = new MseLoss();
        double loss = mse.Forward(p, t);
        var ps = ToDouble(p.ReadOnlySpan);
        var ts = ToDouble(t.ReadOnlySpan);
        Assert.Equal(ps.Select((v, i) => (v - ts[i]) * (v - ts[i])).Average(), loss, 6);
        AssertClose(ps.Select((v, i) => 2 * (v - ts[i]) / 12).ToArray(), mse.Backward().ReadOnlySpan, 1e-6, "mse grad");
        Assert.Throws<ArgumentException>(() => mse.Forward(p, Tensor.Zeros(4, 3)));
    }

    [Fact]
    public void Metrics_CountTopKAndConfusion()
    {
        var scores = Tensor.FromArray([0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f, 0.2f, 0.2f, 0.6f], 3, 3);
        int[] labels = [1, 1, 2];
        Assert.Equal(2, Metrics.CountCorrect(scores, labels));
        Assert.Equal(3, Metrics.CountTopK(scores, labels, 2));
        var confusion = new long[3, 3];
        Metrics.AddToConfusion(scores, labels, confusion);
        Assert.Equal(1, confusion[1, 0]);
        Assert.Equal(1, confusion[1, 1]);
        Assert.Equal(1, confusion[2, 2]);
    }
}
