using NormNet.Kernels;
using NormNet.Layers;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>A convolution whose weights are packed once (<see cref="Conv2d.FreezeWeights"/>, as GroupedInference's private
/// copies are) gives the bits of packing them on every call, on every forward path: padded-width tiles (4-channel panels),
/// channel tiles (32-channel panels), both at once for one layer at different input sizes, pooled, with an addend, 1x1;
/// from then on it reads the packed panels, not the weight tensor; panels of another shape are refused.</summary>
public class Conv2dFrozenWeightsTests
{
    /// <summary>in, out, kernel, stride, padding, input side, batch.</summary>
    public static TheoryData<int, int, int, int, int, int, int> Cases => new()
    {
        { 16, 16, 3, 1, 1, 28, 2 },  // padded-width tiles
        { 32, 64, 3, 1, 1, 14, 3 },  // channel tiles (16-wide vectors)
        { 16, 32, 3, 2, 1, 28, 2 },  // stride 2, channel tiles
        { 3, 6, 5, 1, 2, 9, 2 },     // a partial 4-channel panel
        { 16, 32, 1, 2, 0, 28, 2 },  // 1x1, stride 2: the pointwise forward
        { 5, 7, 1, 1, 0, 7, 3 },     // 1x1, a partial panel
    };

    [Theory, MemberData(nameof(Cases))]
    public void Frozen_GivesTheBitsOfPackingOnEveryCall(int cin, int cout, int k, int stride, int padding, int side, int n)
    {
        var conv = new Conv2d(cin, cout, k, stride, padding, rng: new Rng(1));
        var frozen = new Conv2d(cin, cout, k, stride, padding, rng: new Rng(1));
        frozen.FreezeWeights();
        var x = Tensor.FromArray(RandomNormal(n * cin * side * side, 2), n, cin, side, side);
        Assert.Equal(conv.Forward(x).ToArray(), frozen.Forward(x).ToArray());
        var relu = conv.Forward(x, FusedActivation.Relu).ToArray();
        Assert.Equal(relu, frozen.Forward(x, FusedActivation.Relu).ToArray());
        var addend = Tensor.FromArray(RandomNormal(relu.Length, 3), conv.Forward(x).Shape);
        Assert.Equal(conv.Forward(x, FusedActivation.Relu, addend).ToArray(), frozen.Forward(x, FusedActivation.Relu, addend).ToArray());
        // a wider input: 28-wide outputs take the padded-width tiles where 14-wide ones took the channel tiles
        var wide = Tensor.FromArray(RandomNormal(n * cin * 2 * side * 2 * side, 4), n, cin, 2 * side, 2 * side);
        Assert.Equal(conv.Forward(wide).ToArray(), frozen.Forward(wide).ToArray());
    }

    [Fact]
    public void FrozenPooled_GivesTheBitsOfPackingOnEveryCall()
    {
        foreach (var (cin, cout, side) in new[] { (1, 32, 28), (32, 64, 14), (16, 8, 10) })
        {
            var fused = new ConvReLUMaxPool2d(new Conv2d(cin, cout, 3, padding: 1, rng: new Rng(5)), new MaxPool2d(2));
            var frozen = new ConvReLUMaxPool2d(new Conv2d(cin, cout, 3, padding: 1, rng: new Rng(5)), new MaxPool2d(2));
            frozen.Conv.FreezeWeights();
            fused.Eval();
            frozen.Eval();
            var x = Tensor.FromArray(RandomNormal(2 * cin * side * side, 6), 2, cin, side, side);
            Assert.Equal(fused.Forward(x).ToArray(), frozen.Forward(x).ToArray());
        }
    }

    [Fact]
    public void Frozen_ReadsThePanels_NotTheWeightTensor()
    {
        var conv = new Conv2d(4, 8, 3, padding: 1, rng: new Rng(7));
        var x = Tensor.FromArray(RandomNormal(2 * 4 * 36, 8), 2, 4, 6, 6);
        conv.FreezeWeights();
        var before = conv.Forward(x).ToArray();
        conv.Weight.Value.Span.Fill(0f);
        Assert.Equal(before, conv.Forward(x).ToArray());
        Assert.NotEqual(0f, before.Select(MathF.Abs).Max());
    }

    [Fact]
    public void PanelsOfAnotherShape_AreRefused()
    {
        var packed = new PackedConvolutionWeights(new float[8 * 4 * 9], 4, 8, 3);
        var g = new ConvGeometry(1, 4, 6, 6, 3, 3, 1, 1);
        var ex = Assert.Throws<ArgumentException>(() => DirectConvolution.Forward(new float[144], new float[16 * 36], default, default, g, 16, new float[16 * 36],
            FusedActivation.None, packed));
        Assert.Contains("weights packed for 8 outputs, 4 inputs, 3x3", ex.Message);
        var one = new ConvGeometry(1, 4, 6, 6, 1, 1, 1, 0);
        ex = Assert.Throws<ArgumentException>(() => PointwiseConvolution.Forward(new float[144], new float[32], default, default, one, 8, new float[8 * 36],
            SimdDispatch.Widest, FusedActivation.None, packed));
        Assert.Contains("weights packed for 8 outputs, 4 inputs, 3x3", ex.Message);
        Assert.Throws<ArgumentException>(() => new PackedConvolutionWeights(new float[10], 4, 8, 3));
        Assert.Throws<InvalidOperationException>(() => packed.Panels(DirectConvolution.ChannelBlock));
    }
}
