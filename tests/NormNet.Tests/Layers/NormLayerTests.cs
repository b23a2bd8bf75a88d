using NormNet.Layers;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>GroupNorm, LayerNorm and InstanceNorm: state-dict names, errors that name expected and actual shapes,
/// per-sample independence, and the equivalences between them.</summary>
public class NormLayerTests
{
    [Fact]
    public void StateDictNames_ArePyTorchs()
    {
        Assert.Equal(["weight", "bias"], new GroupNorm(2, 4).StateEntries().Select(e => e.Name));
        Assert.Empty(new GroupNorm(2, 4, affine: false).StateEntries());
        Assert.Equal(["weight", "bias"], new LayerNorm([3, 4]).StateEntries().Select(e => e.Name));
        Assert.Equal(["weight"], new LayerNorm(8, bias: false).StateEntries().Select(e => e.Name));
        Assert.Equal([3, 4], new LayerNorm([3, 4]).Weight!.Value.Shape);
        Assert.Empty(new InstanceNorm2d(3).StateEntries());
        Assert.Equal(["weight", "bias", "running_mean", "running_var", "num_batches_tracked"],
            new InstanceNorm1d(3, affine: true, trackRunningStats: true).StateEntries().Select(e => e.Name));
    }

    [Fact]
    public void Errors_NameExpectedAndActual()
    {
        var e = Assert.Throws<ArgumentException>(() => new GroupNorm(3, 8));
        Assert.Contains("numChannels (8) must be divisible by numGroups (3)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new GroupNorm(2, 4).Forward(Tensor.Zeros(2, 6, 3)));
        Assert.Contains("expected 4 channels", e.Message);
        Assert.Contains("(2, 6, 3)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new GroupNorm(2, 4).Forward(Tensor.Zeros(4)));
        Assert.Contains("rank 2 or more", e.Message);
        e = Assert.Throws<ArgumentException>(() => new LayerNorm([4, 5]).Forward(Tensor.Zeros(2, 3, 5)));
        Assert.Contains("(*, 4, 5)", e.Message);
        Assert.Contains("(2, 3, 5)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new LayerNorm([2, 4, 5]).Forward(Tensor.Zeros(4, 5)));
        Assert.Contains("(4, 5)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new InstanceNorm2d(3).Forward(Tensor.Zeros(3, 4)));
        Assert.Contains("4D (N, C, H, W) or 3D (C, H, W)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new InstanceNorm2d(3).Forward(Tensor.Zeros(2, 5, 4, 4)));
        Assert.Contains("expected 3 channels", e.Message);
        e = Assert.Throws<ArgumentException>(() => new InstanceNorm1d(3).Forward(Tensor.Zeros(2, 3, 1)));
        Assert.Contains("more than 1 spatial element", e.Message);
        Assert.Throws<InvalidOperationException>(() => new LayerNorm(3).Backward(Tensor.Zeros(2, 3)));
    }

    [Fact]
    public void GroupNorm_EachSampleIndependent_SameInTrainAndEval()
    {
        var layer = new GroupNorm(2, 6);
        RandomizeState(layer, 3);
        var x = RandomNormal(2 * 6 * 5, 4, 1, 2);
        var both = layer.Forward(Tensor.FromArray(x, 2, 6, 5)).ToArray();
        var second = layer.Forward(Tensor.FromArray(x[30..], 1, 6, 5)).ToArray();
        Assert.Equal(both[30..], second);
        layer.Eval();
        Assert.Equal(both, layer.Forward(Tensor.FromArray(x, 2, 6, 5)).ToArray());
    }

    [Fact]
    public void GroupNormWithOneGroupPerChannel_IsAffineInstanceNorm_AndOneGroup_IsLayerNormWithoutAffine()
    {
        var x = RandomNormal(3 * 4 * 10, 5, -1, 3);
        var dy = RandomNormal(x.Length, 6);
        var gn = new GroupNorm(4, 4);
        var inorm = new InstanceNorm1d(4, affine: true);
        RandomizeState(gn, 7);
        inorm.Weight!.Value.CopyFrom(gn.Weight!.Value);
        inorm.Bias!.Value.CopyFrom(gn.Bias!.Value);
        AssertClose(gn.Forward(Tensor.FromArray(x, 3, 4, 10)).ReadOnlySpan, inorm.Forward(Tensor.FromArray(x, 3, 4, 10)).ReadOnlySpan, 1e-6, "G = C");
        AssertClose(gn.Backward(Tensor.FromArray(dy, 3, 4, 10)).ReadOnlySpan, inorm.Backward(Tensor.FromArray(dy, 3, 4, 10)).ReadOnlySpan, 1e-6, "G = C dx");
        AssertClose(gn.Weight.Grad.ReadOnlySpan, inorm.Weight.Grad.ReadOnlySpan, 1e-5, "G = C dweight");

        var one = new GroupNorm(1, 4, affine: false);
        var ln = new LayerNorm([4, 10], elementwiseAffine: false);
        AssertClose(one.Forward(Tensor.FromArray(x, 3, 4, 10)).ReadOnlySpan, ln.Forward(Tensor.FromArray(x, 3, 4, 10)).ReadOnlySpan, 1e-6, "G = 1");
        AssertClose(one.Backward(Tensor.FromArray(dy, 3, 4, 10)).ReadOnlySpan, ln.Backward(Tensor.FromArray(dy, 3, 4, 10)).ReadOnlySpan, 1e-6, "G = 1 dx");
    }

    [Fact]
    public void LayerNorm_WithoutBias_HasNoShift()
    {
        var ln = new LayerNorm(6, bias: false);
        Assert.Null(ln.Bias);
        var y = ln.Forward(Tensor.FromArray(RandomNormal(4 * 6, 8, 2, 3), 4, 6)).ToArray();
        for (int r = 0; r < 4; r++) Assert.Equal(0, y.Skip(r * 6).Take(6).Sum(), 4); // weight 1, no shift: mean 0
    }

    [Fact]
    public void InstanceNorm_Unbatched_IsABatchOfOne()
    {
        var layer = new InstanceNorm2d(3, affine: true, trackRunningStats: true);
        RandomizeState(layer, 9);
        var x = RandomNormal(3 * 4 * 5, 10);
        var batched = layer.Forward(Tensor.FromArray(x, 1, 3, 4, 5)).ToArray();
        Assert.Equal(batched, layer.Forward(Tensor.FromArray(x, 3, 4, 5)).ToArray());
    }

    [Fact]
    public void SteadyStateTrainingSteps_AllocateNothing()
    {
        // above the parallel threshold, so the chunked paths and the parameter-gradient partials run too (this thread's
        // allocations: other test classes run concurrently; the workers only run kernel chunks)
        (Module Layer, int[] Shape)[] cases =
        [
            (new GroupNorm(4, 16), [8, 16, 24, 24]), (new LayerNorm(512), [160, 512]),
            (new InstanceNorm2d(16, affine: true, trackRunningStats: true), [8, 16, 24, 24]),
            (new BatchNorm2d(16, virtualBatchSize: 4), [8, 16, 24, 24]), (new BatchRenorm2d(16, rMax: 1.2, dMax: 0.1), [8, 16, 24, 24]),
        ];
        foreach (var (layer, shape) in cases)
        {
            var x = Tensor.FromArray(RandomNormal(shape.Aggregate(1, (a, b) => a * b), 1, 0.5, 2), shape);
            var g = Tensor.FromArray(RandomNormal(x.Length, 2), shape);
            for (int i = 0; i < 3; i++) { layer.Forward(x); layer.Backward(g); }
            SteadyStateAllocation.AssertNone(() =>
            {
                for (int i = 0; i < 5; i++) { layer.Forward(x); layer.Backward(g); }
            }, $"{layer.GetType().Name}, 5 steps");
        }
    }
}
