using NormNet.Layers;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>The fused ConvReLUMaxPool2d against the Conv2d, ReLU and MaxPool2d(2) it replaces, with the same parameters:
/// the same bits forward and backward (input and parameter gradients), on the direct path and the 1x1 (im2col) path, in
/// eval and training mode; its state names; pools it cannot fuse and misuse reported.</summary>
public class ConvReLUMaxPool2dTests
{
    [Theory]
    [InlineData(3, 32, 14, 14, 10, 3, 1, 1, false)] // the direct convolution, pooled rows of 7
    [InlineData(2, 3, 9, 7, 5, 3, 2, 0, false)]     // stride 2, output 4x3: pooled 2x1
    [InlineData(2, 6, 6, 8, 4, 1, 1, 0, false)]     // 1x1: the three layers one after another
    [InlineData(2, 5, 7, 9, 6, 3, 1, 1, true)]      // training mode (the pooling records its positions)
    public void Fused_GivesTheBitsOfTheThreeLayers_ForwardAndBackward(int n, int c, int h, int w, int cout, int k, int stride, int padding, bool training)
    {
        var conv = new Conv2d(c, cout, k, stride, padding, rng: new Rng(1));
        var reference = new Conv2d(c, cout, k, stride, padding, rng: new Rng(1));
        var unfused = new Sequential(reference, new ReLU(), new MaxPool2d(2));
        var fused = new ConvReLUMaxPool2d(conv, new MaxPool2d(2));
        if (training) { unfused.Train(); fused.Train(); }
        else { unfused.Eval(); fused.Eval(); }
        var x = Tensor.FromArray(RandomNormal(n * c * h * w, 5), n, c, h, w);

        var expected = unfused.Forward(x).ToArray();
        var y = fused.Forward(x);
        Assert.Equal(unfused.Forward(x).Shape, y.Shape);
        Assert.Contains(expected, v => v == 0f);
        Assert.Contains(expected, v => v > 0f);
        Assert.Equal(Bits(expected), Bits(y.ToArray()));

        var dy = Tensor.FromArray(RandomNormal(expected.Length, 6), y.Shape);
        var dx = unfused.Backward(dy).ToArray();
        Assert.Equal(Bits(dx), Bits(fused.Backward(dy).ToArray()));
        Assert.Equal(reference.Weight.Grad.ToArray(), conv.Weight.Grad.ToArray());
        Assert.Equal(reference.Bias!.Grad.ToArray(), conv.Bias!.Grad.ToArray());
    }

    [Fact]
    public void StateNames_AreTheConvolutions_AndTheInputGradientSwitchReachesIt()
    {
        var fused = new ConvReLUMaxPool2d(new Conv2d(2, 3, 3, padding: 1, rng: new Rng(2)), new MaxPool2d(2));
        Assert.Equal(["0.weight", "0.bias"], fused.StateEntries().Select(e => e.Name));
        fused.RequiresInputGradient = false;
        Assert.False(fused.Conv.RequiresInputGradient);
        fused.Eval();
        Assert.False(fused.Conv.Training);
        Assert.False(fused.Pool.Training);
    }

    [Fact]
    public void UnfusablePoolsAndMisuse_AreReported()
    {
        var conv = new Conv2d(2, 3, 3, rng: new Rng(2));
        var ex = Assert.Throws<ArgumentException>(() => new ConvReLUMaxPool2d(conv, new MaxPool2d(3, 2)));
        Assert.Contains("got kernel 3, stride 2, padding 0", ex.Message);
        Assert.Throws<ArgumentException>(() => new ConvReLUMaxPool2d(conv, new MaxPool2d(2, 1)));
        Assert.Throws<ArgumentNullException>(() => new ConvReLUMaxPool2d(null!, new MaxPool2d(2)));
        Assert.Throws<ArgumentNullException>(() => new ConvReLUMaxPool2d(conv, null!));
        var fused = new ConvReLUMaxPool2d(conv, new MaxPool2d(2));
        Assert.Throws<InvalidOperationException>(() => fused.Backward(Tensor.Zeros(1, 3, 1, 1)));
        ex = Assert.Throws<ArgumentException>(() => fused.Forward(Tensor.Zeros(1, 4, 5, 5)));
        Assert.Contains("Conv2d(2, 3)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => fused.Forward(Tensor.Zeros(1, 2, 3, 5))); // output 1x3: no 2x2 window
        Assert.Contains("MaxPool2d", ex.Message);
        fused.Forward(Tensor.Zeros(1, 2, 6, 6));
        ex = Assert.Throws<ArgumentException>(() => fused.Backward(Tensor.Zeros(1, 3, 4, 4)));
        Assert.Contains("ConvReLUMaxPool2d.Backward", ex.Message);
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();
}
