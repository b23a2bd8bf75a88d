using NormNet.Kernels;
using NormNet.Layers;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>The 2x2, stride-2 max pooling that runs four windows per vector step: against a plain window-by-window rule
/// and the scalar path, bit for bit, on every output width 1-21 (full steps, the overlapping last step, rows too short
/// for a vector), odd input sizes, ties (first wins, -0 before +0 stays -0), NaN anywhere (first NaN wins), infinities;
/// and the layer's eval mode, which records no positions, against its training mode.</summary>
public class MaxPool2x2Tests
{
    // the rule: row-major over the window, the first NaN, else the first of the largest
    private static (float Value, int At) Expected(float[] x, int plane, int w, int oy, int ox)
    {
        int at = -1;
        float best = 0;
        for (int k = 0; k < 4; k++)
        {
            int i = plane + (2 * oy + k / 2) * w + 2 * ox + k % 2;
            if (at < 0 || x[i] > best || (float.IsNaN(x[i]) && !float.IsNaN(best)))
            {
                best = x[i];
                at = i - plane;
            }
        }
        return (best, at);
    }

    // values from a small set, so that windows tie often; NaN, infinities and signed zeros sprinkled in
    private static float[] Data(int length, int seed)
    {
        var rng = new Random(seed);
        float[] pool = [0f, -0f, 1f, 2f, -1f, float.PositiveInfinity, float.NegativeInfinity, float.NaN];
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            int r = rng.Next(40);
            x[i] = r < pool.Length ? pool[r] : rng.Next(4) - 1.5f;
        }
        return x;
    }

    [Fact]
    public void EveryWidth_MatchesTheRule_AndTheScalarPath()
    {
        for (int w = 2; w <= 43; w++)
            foreach (int h in new[] { 2, 5 })
            {
                var g = new ConvGeometry(2, 3, h, w, 2, 2, 2, 0);
                var x = Data(2 * 3 * h * w, w * 10 + h);
                var y = new float[g.N * g.C * g.OutPlane];
                var at = new int[y.Length];
                var ys = new float[y.Length];
                var ats = new int[y.Length];
                var yNone = new float[y.Length];
                Pooling.MaxForward(x, g, y, at, scalarOnly: false);
                Pooling.MaxForward(x, g, ys, ats, scalarOnly: true);
                Pooling.MaxForward(x, g, yNone, default, scalarOnly: false);
                for (int p = 0; p < g.N * g.C; p++)
                    for (int oy = 0; oy < g.OutH; oy++)
                        for (int ox = 0; ox < g.OutW; ox++)
                        {
                            int o = (p * g.OutH + oy) * g.OutW + ox;
                            var (value, index) = Expected(x, p * h * w, w, oy, ox);
                            string where = $"H {h} W {w} plane {p} ({oy}, {ox})";
                            Assert.True(BitConverter.SingleToInt32Bits(value) == BitConverter.SingleToInt32Bits(y[o]), $"{where}: y {y[o]}, expected {value}");
                            Assert.True(index == at[o], $"{where}: argmax {at[o]}, expected {index}");
                            Assert.Equal(BitConverter.SingleToInt32Bits(y[o]), BitConverter.SingleToInt32Bits(ys[o]));
                            Assert.Equal(at[o], ats[o]);
                            Assert.Equal(BitConverter.SingleToInt32Bits(y[o]), BitConverter.SingleToInt32Bits(yNone[o]));
                        }
            }
    }

    [Fact]
    public void Backward_EveryWidth_IsDyAtTheArgmax_AndZeroElsewhere()
    {
        for (int w = 2; w <= 43; w++)
            foreach (int h in new[] { 2, 5 })
            {
                var g = new ConvGeometry(2, 3, h, w, 2, 2, 2, 0);
                var x = RandomNormal(2 * 3 * h * w, w * 10 + h);
                var y = new float[g.N * g.C * g.OutPlane];
                var at = new int[y.Length];
                Pooling.MaxForward(x, g, y, at);
                var dy = Data(y.Length, w + 7 * h); // signed zeros among them: -0 becomes +0 as in 0 + dy
                for (int i = 0; i < dy.Length; i++) if (float.IsNaN(dy[i])) dy[i] = 3f;
                var expected = new float[x.Length];
                for (int p = 0; p < g.N * g.C; p++)
                    for (int o = 0; o < g.OutPlane; o++) expected[p * h * w + at[p * g.OutPlane + o]] += dy[p * g.OutPlane + o];
                foreach (bool scalar in new[] { false, true })
                {
                    var dx = new float[x.Length];
                    dx.AsSpan().Fill(float.NaN); // every element must be written
                    Pooling.MaxBackward(dy, at, g, dx, scalar);
                    for (int i = 0; i < dx.Length; i++)
                        Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(dx[i]),
                            $"H {h} W {w} scalar {scalar} dx[{i}] = {dx[i]}, expected {expected[i]}");
                }
            }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Backward_OfAnArgmaxOutsideItsWindow_Throws(bool scalar)
    {
        var g = new ConvGeometry(1, 1, 2, 8, 2, 2, 2, 0);
        int[] at = [0, 3, 4, 2]; // window 3 starts at 6
        var e = Assert.Throws<ArgumentException>(() => Pooling.MaxBackward(new float[4], at, g, new float[16], scalar));
        Assert.Contains("argmax 2 is outside its 2x2 window at plane index 6", e.Message);
    }

    [Fact]
    public void NegativeZeroBeforePositiveZero_StaysNegative()
    {
        var g = new ConvGeometry(1, 1, 2, 8, 2, 2, 2, 0);
        float[] x = [-0f, 0f, 0f, -0f, -0f, -0f, 1f, 1f, 0f, 0f, 0f, -0f, 0f, 0f, 1f, 1f];
        var y = new float[4];
        var at = new int[4];
        Pooling.MaxForward(x, g, y, at);
        Assert.True(float.IsNegative(y[0]) && !float.IsNegative(y[1]) && float.IsNegative(y[2]), $"got {y[0]}, {y[1]}, {y[2]}");
        Assert.Equal([0, 2, 4, 6], at);
    }

    [Fact]
    public void EvalMode_GivesTheSameOutput_AndItsBackwardTheSameGradient()
    {
        var x = Tensor.FromArray(RandomNormal(4 * 5 * 10 * 14, 3), 4, 5, 10, 14);
        var dy = Tensor.FromArray(RandomNormal(4 * 5 * 5 * 7, 4), 4, 5, 5, 7);
        var train = new MaxPool2d(2);
        var eval = new MaxPool2d(2);
        eval.Eval();
        float[] yTrain = train.Forward(x).ReadOnlySpan.ToArray();
        float[] dxTrain = train.Backward(dy).ReadOnlySpan.ToArray();
        Assert.Equal(yTrain, eval.Forward(x).ReadOnlySpan.ToArray());
        Assert.Equal(dxTrain, eval.Backward(dy).ReadOnlySpan.ToArray());
        Assert.Equal(yTrain, eval.Forward(x).ReadOnlySpan.ToArray()); // the backward left y as it was
    }

    [Fact]
    public void WrongArgmaxLength_IsRejected_NamingBoth()
    {
        var g = new ConvGeometry(1, 1, 4, 4, 2, 2, 2, 0);
        var e = Assert.Throws<ArgumentException>(() => Pooling.MaxForward(new float[16], g, new float[4], new int[3]));
        Assert.Contains("argmax has 3 elements, expected 4", e.Message);
        e = Assert.Throws<ArgumentException>(() => Pooling.MaxBackward(new float[4], new int[5], g, new float[16]));
        Assert.Contains("argmax has 5 elements, expected 4", e.Message);
    }
}
