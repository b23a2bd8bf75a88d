using NormNet.Kernels;
using NormNet.Layers;
using NormNet.Tests.Kernels;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>The fused ResidualReLU against the Residual block and ReLU it replaces, with the same parameters: the same
/// bits forward and backward (input and parameter gradients), NaN and infinities included, with the addition in the last
/// convolution's epilogue (identity and projection shortcuts, strides 1 and 2), with a 1x1 last convolution (im2col plus
/// products, then the addition and the ReLU as passes) and with a body that does not end in a convolution; the direct
/// kernel's addend at every vector width; state names, the input-gradient switch, and misuse reported.</summary>
public class ResidualReLUTests
{
    public static TheoryData<string> Blocks => new() { "identity", "projection", "last 1x1", "last not a convolution", "body not a Sequential" };

    [Theory, MemberData(nameof(Blocks))]
    public void Fused_GivesTheBitsOfTheBlockThenReLU_ForwardAndBackward(string kind)
    {
        var fused = new ResidualReLU(Block(kind));
        var reference = Block(kind);
        var unfused = new Sequential(reference, new ReLU());
        int c = kind == "projection" ? 3 : 4;
        var data = RandomNormal(3 * c * 8 * 8, 5);
        data[7] = float.NaN;
        data[40] = float.PositiveInfinity;
        var x = Tensor.FromArray(data, 3, c, 8, 8);

        var expected = unfused.Forward(x).ToArray();
        var actual = fused.Forward(x).ToArray();
        Assert.Contains(expected, v => v == 0f);
        Assert.Contains(expected, v => v > 0f);
        Assert.Contains(expected, float.IsNaN);
        Assert.Equal(expected, actual);

        var clean = Tensor.FromArray(RandomNormal(3 * c * 8 * 8, 9), 3, c, 8, 8);
        var y = unfused.Forward(clean);
        fused.Forward(clean);
        var dy = Tensor.FromArray(RandomNormal(y.Length, 6), y.Shape);
        Assert.Equal(unfused.Backward(dy).ToArray(), fused.Backward(dy).ToArray());
        var grads = fused.NamedParameters().Select(p => p.Parameter.Grad.ToArray()).ToList();
        Assert.Equal(reference.NamedParameters().Select(p => p.Parameter.Grad.ToArray()).ToList(), grads);
        Assert.All(grads, g => Assert.Contains(g, v => v != 0f));
    }

    [Fact]
    public void StateNames_AreTheBlocksUnderZero_AndTheInputGradientSwitchReachesIt()
    {
        var fused = new ResidualReLU(Block("projection"));
        Assert.Equal(Block("projection").StateEntries().Select(e => "0." + e.Name), fused.StateEntries().Select(e => e.Name));
        fused.RequiresInputGradient = false;
        Assert.False(fused.Block.RequiresInputGradient);
        Assert.False(fused.Block.Shortcut!.RequiresInputGradient);
        fused.Eval();
        Assert.False(fused.Block.Body.Training);
    }

    [Fact]
    public void Misuse_IsReported()
    {
        // a body whose output does not match the identity shortcut
        var fused = new ResidualReLU(new Residual(new Sequential(new Conv2d(4, 6, 3, padding: 1, rng: new Rng(1)))));
        var ex = Assert.Throws<ArgumentException>(() => fused.Forward(Tensor.Zeros(1, 4, 5, 5)));
        Assert.Contains("body output (1, 6, 5, 5) and shortcut output (1, 4, 5, 5) differ", ex.Message);
        Assert.Throws<InvalidOperationException>(() => new ResidualReLU(Block("identity")).Backward(Tensor.Zeros(1, 4, 8, 8)));
        Assert.Throws<ArgumentNullException>(() => new ResidualReLU(null!));
    }

    public static IEnumerable<object[]> Widths() => KernelWidths.Supported();

    [Theory, MemberData(nameof(Widths))]
    public void DirectForwardAdd_IsTheForwardThenTheAdditionThenTheActivation(Width width)
    {
        // 5x7 outputs: rows ending mid-vector; 6 channels: a partial 4-row panel; with and without a bias
        var g = new ConvGeometry(3, 5, 5, 7, 3, 3, 1, 1);
        int cout = 6;
        var x = RandomNormal(g.N * g.C * g.H * g.W, 1);
        var w = RandomNormal(cout * g.PatchSize, 2, 0, 0.3);
        var r = RandomNormal(g.N * cout * g.OutPlane, 3);
        foreach (var b in new[] { RandomNormal(cout, 4), [] })
        {
            var y = new float[r.Length];
            DirectConvolution.Forward(x, w, b, g, cout, y, width.ToSimd());
            var expected = y.Zip(r, (u, v) => Math.Max(u + v, 0f)).ToArray();
            var fused = new float[r.Length];
            DirectConvolution.ForwardAdd(x, w, b, r, g, cout, fused, width.ToSimd(), FusedActivation.Relu);
            Assert.Equal(expected, fused);
        }
        var ex = Assert.Throws<ArgumentException>(() => DirectConvolution.ForwardAdd(x, w, default, r.AsSpan(1), g, cout, new float[r.Length]));
        Assert.Contains($"the addend has {r.Length - 1} elements, expected {r.Length}", ex.Message);
    }

    /// <summary>The same block for the same kind (weights from fixed generators).</summary>
    private static Residual Block(string kind) => kind switch
    {
        "identity" => new Residual(new Sequential(new Conv2d(4, 4, 3, padding: 1, rng: new Rng(1)), new ReLU(), new Conv2d(4, 4, 3, padding: 1, rng: new Rng(2)))),
        "projection" => new Residual(
            new Sequential(new Conv2d(3, 5, 3, 2, 1, rng: new Rng(1)), new ReLU(), new Conv2d(5, 5, 3, padding: 1, rng: new Rng(2))),
            new Conv2d(3, 5, 1, 2, rng: new Rng(3))),
        "last 1x1" => new Residual(new Sequential(new Conv2d(4, 4, 3, padding: 1, rng: new Rng(1)), new ReLU(), new Conv2d(4, 4, 1, rng: new Rng(2)))),
        "last not a convolution" => new Residual(new Sequential(new Conv2d(4, 4, 3, padding: 1, rng: new Rng(1)), new ChannelAffine([1f, -2f, 0.5f, 3f], [0.1f, 0f, -0.2f, 1f]))),
        "body not a Sequential" => new Residual(new Conv2d(4, 4, 3, padding: 1, rng: new Rng(1))),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
