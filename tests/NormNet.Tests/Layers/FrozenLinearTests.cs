using NormNet.Layers;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>FrozenLinear against the Linear it was made from: the same bits forward and backward at batch sizes where
/// the product reads W^T in place (up to 144 rows) and where it packs it, with and without bias (at the machine's width; GemmTests.StoringBTransposed_ChangesNoBits runs every width);
/// its state (buffers only, W^T's shape); the input-gradient switch; misuse reported.</summary>
public class FrozenLinearTests
{
    public static TheoryData<int, bool> Batches() => new()
    {
        { 1, true }, { 3, true }, { 5, false }, { 60, true }, { 144, true }, { 145, false }, { 200, true },
    };

    [Theory, MemberData(nameof(Batches))]
    public void Frozen_GivesTheBitsOfTheLinear_ForwardAndInputGradient(int n, bool bias)
    {
        var linear = new Linear(37, 45, bias, new Rng(3)); // 45 outputs: a partial last panel at every width
        var frozen = new FrozenLinear(linear);
        var x = Tensor.FromArray(RandomNormal(n * 37, 7), n, 37);
        var dy = Tensor.FromArray(RandomNormal(n * 45, 8), n, 45);
        var expected = linear.Forward(x).ToArray();
        var dxExpected = linear.Backward(dy).ToArray();
        Assert.Equal(expected, frozen.Forward(x).ToArray());
        Assert.Equal(dxExpected, frozen.Backward(dy).ToArray());
        Assert.Contains(linear.Forward(x).ToArray(), v => Math.Abs(v) > 0.1f); // not a trivially equal zero output
    }

    [Fact]
    public void State_IsBuffersOnly_WithWeightTransposed()
    {
        var linear = new Linear(3, 2, rng: new Rng(4));
        var frozen = new FrozenLinear(linear);
        Assert.Empty(frozen.NamedParameters());
        Assert.Equal(["weight_t", "bias"], frozen.StateEntries().Select(e => e.Name));
        Assert.Equal([3, 2], frozen.WeightTransposed.Shape);
        var w = linear.Weight.Value.ReadOnlySpan;
        for (int o = 0; o < 2; o++)
            for (int i = 0; i < 3; i++) Assert.Equal(w[o * 3 + i], frozen.WeightTransposed.ReadOnlySpan[i * 2 + o]);
        Assert.Equal(linear.Bias!.Value.ToArray(), frozen.Bias!.ToArray());
        Assert.Equal(["weight_t"], new FrozenLinear(new Linear(3, 2, bias: false)).StateEntries().Select(e => e.Name));

        // a copy: changing the Linear afterwards does not change the frozen layer
        linear.Weight.Value.Span[0] += 1f;
        Assert.NotEqual(linear.Weight.Value.ReadOnlySpan[0], frozen.WeightTransposed.ReadOnlySpan[0]);
    }

    [Fact]
    public void WithoutInputGradient_BackwardGivesZeros_AndBadInputsAreNamed()
    {
        var frozen = new FrozenLinear(new Linear(4, 3, rng: new Rng(5))) { RequiresInputGradient = false };
        var x = Tensor.FromArray(RandomNormal(8, 9), 2, 4);
        frozen.Forward(x);
        Assert.All(frozen.Backward(Tensor.Full(1f, 2, 3)).ToArray(), v => Assert.Equal(0f, v));

        var e = Assert.Throws<ArgumentException>(() => frozen.Forward(Tensor.Zeros(2, 5)));
        Assert.Contains("FrozenLinear(4, 3) expected input (N, 4), got (2, 5)", e.Message);
        Assert.Throws<InvalidOperationException>(() => new FrozenLinear(new Linear(4, 3)).Backward(Tensor.Zeros(2, 3)));
        Assert.Throws<ArgumentException>(() => frozen.Backward(Tensor.Zeros(3, 3)));
    }
}
