using NormNet.Layers;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>The fused ConvReLU2d against the Conv2d and ReLU it replaces, with the same parameters: the same bits
/// forward and backward (input and parameter gradients), on the direct path and the im2col path; PyTorch's state names;
/// the input-gradient switch passed on; misuse reported.</summary>
public class ConvReLU2dTests
{
    [Theory]
    [InlineData(3, 32, 9, 9, 10, 3, 1, 1)] // 288 patch rows, stride 1: the direct convolution
    [InlineData(4, 1, 12, 12, 8, 3, 1, 1)] // 9 patch rows: im2col plus products
    [InlineData(2, 3, 9, 7, 5, 3, 2, 0)]   // stride 2: im2col plus products
    public void Fused_GivesTheBitsOfConvThenReLU_ForwardAndBackward(int n, int c, int h, int w, int cout, int k, int stride, int padding)
    {
        var conv = new Conv2d(c, cout, k, stride, padding, rng: new Rng(1));
        var reference = new Conv2d(c, cout, k, stride, padding, rng: new Rng(1));
        var unfused = new Sequential(reference, new ReLU());
        var fused = new ConvReLU2d(conv);
        var x = Tensor.FromArray(RandomNormal(n * c * h * w, 5), n, c, h, w);

        var expected = unfused.Forward(x).ToArray();
        var actual = fused.Forward(x).ToArray();
        Assert.Contains(expected, v => v == 0f);
        Assert.Contains(expected, v => v > 0f);
        Assert.Equal(expected, actual);

        var dy = Tensor.FromArray(RandomNormal(expected.Length, 6), fused.Forward(x).Shape);
        var dx = unfused.Backward(dy).ToArray();
        Assert.Equal(dx, fused.Backward(dy).ToArray());
        Assert.Equal(reference.Weight.Grad.ToArray(), conv.Weight.Grad.ToArray());
        Assert.Equal(reference.Bias!.Grad.ToArray(), conv.Bias!.Grad.ToArray());
    }

    [Fact]
    public void StateNames_ArePyTorchs_AndTheInputGradientSwitchReachesTheConvolution()
    {
        var fused = new ConvReLU2d(new Conv2d(2, 3, 3, padding: 1, rng: new Rng(2)));
        Assert.Equal(["0.weight", "0.bias"], fused.StateEntries().Select(e => e.Name));
        fused.RequiresInputGradient = false;
        Assert.False(fused.Conv.RequiresInputGradient);
        var x = Tensor.FromArray(RandomNormal(2 * 2 * 5 * 5, 3), 2, 2, 5, 5);
        var y = fused.Forward(x);
        var dx = fused.Backward(Tensor.FromArray(RandomNormal(y.Length, 4), y.Shape));
        Assert.All(dx.ToArray(), v => Assert.Equal(0f, v));
        Assert.Contains(fused.Conv.Weight.Grad.ToArray(), v => v != 0f);
        fused.Eval();
        Assert.False(fused.Conv.Training);
    }

    [Fact]
    public void Misuse_IsReported()
    {
        var fused = new ConvReLU2d(new Conv2d(2, 3, 3, rng: new Rng(2)));
        Assert.Throws<InvalidOperationException>(() => fused.Backward(Tensor.Zeros(1, 3, 3, 3)));
        var ex = Assert.Throws<ArgumentException>(() => fused.Forward(Tensor.Zeros(1, 4, 5, 5)));
        Assert.Contains("Conv2d(2, 3)", ex.Message);
        fused.Forward(Tensor.Zeros(1, 2, 5, 5));
        ex = Assert.Throws<ArgumentException>(() => fused.Backward(Tensor.Zeros(1, 3, 4, 4)));
        Assert.Contains("ConvReLU2d.Backward", ex.Message);
        Assert.Throws<ArgumentNullException>(() => new ConvReLU2d(null!));
    }
}
