using NormNet.Layers;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>Ghost batch norm (<see cref="BatchNormBase.VirtualBatchSize"/>): in training, bit-identical to an ordinary
/// batch norm called on each virtual batch in turn (outputs, gradients, running statistics); in eval, ordinary batch
/// norm over the whole batch.</summary>
public class GhostBatchNormTests
{
    public static TheoryData<string> Layouts => new() { "1d-nc", "1d-ncl", "2d", "2d-channels-last" };

    private static (BatchNormBase Layer, int[] Shape) Make(string layout, int? virtualBatchSize, int n) => layout switch
    {
        "1d-nc" => (new BatchNorm1d(5, momentum: 0.2, virtualBatchSize: virtualBatchSize), [n, 5]),
        "1d-ncl" => (new BatchNorm1d(3, virtualBatchSize: virtualBatchSize), [n, 3, 4]),
        "2d" => (new BatchNorm2d(4, momentum: null, virtualBatchSize: virtualBatchSize), [n, 4, 3, 5]),
        _ => (new BatchNorm2d(6, memoryFormat: MemoryFormat.ChannelsLast, virtualBatchSize: virtualBatchSize), [n, 3, 2, 6]),
    };

    [Theory, MemberData(nameof(Layouts))]
    public void Training_EqualsBatchNormOnEachVirtualBatch(string layout)
    {
        const int v = 3, k = 4;
        var (ghost, shape) = Make(layout, v, v * k);
        var (plain, subShape) = Make(layout, null, v);
        RandomizeState(ghost, 1);
        foreach (var ((_, a, _), (_, b, _)) in ghost.StateEntries().Zip(plain.StateEntries()))
            if (a is not null) b!.CopyFrom(a);
        int size = subShape.Aggregate(1, (p, d) => p * d);
        for (int step = 0; step < 2; step++)
        {
            var x = RandomNormal(size * k, 10 + step, 0.5, 2);
            var g = RandomNormal(size * k, 20 + step);
            var y = ghost.Forward(Tensor.FromArray(x, shape)).ToArray();
            var dx = ghost.Backward(Tensor.FromArray(g, shape)).ToArray();
            for (int i = 0; i < k; i++)
            {
                var yi = plain.Forward(Tensor.FromArray(x[(i * size)..((i + 1) * size)], subShape)).ToArray();
                var dxi = plain.Backward(Tensor.FromArray(g[(i * size)..((i + 1) * size)], subShape)).ToArray();
                Assert.Equal(yi, y[(i * size)..((i + 1) * size)]);
                Assert.Equal(dxi, dx[(i * size)..((i + 1) * size)]);
            }
            Assert.Equal(k * ghost.NumFeatures, ghost.BatchMean.Length);
        }
        // parameter gradients accumulated over the virtual batches, running statistics updated once per virtual batch
        Assert.Equal(plain.Weight!.Grad.ToArray(), ghost.Weight!.Grad.ToArray());
        Assert.Equal(plain.Bias!.Grad.ToArray(), ghost.Bias!.Grad.ToArray());
        Assert.Equal(plain.RunningMean!.ToArray(), ghost.RunningMean!.ToArray());
        Assert.Equal(plain.RunningVar!.ToArray(), ghost.RunningVar!.ToArray());
        Assert.Equal(2 * k, ghost.NumBatchesTracked);
        Assert.NotEqual(0, MaxAbs(ghost.RunningMean!.ReadOnlySpan));

        // eval: ordinary batch norm with the running statistics, over the whole batch
        ghost.Eval();
        plain.Eval();
        var xe = RandomNormal(size * k, 30);
        var full = Make(layout, null, v * k).Layer;
        foreach (var ((_, a, _), (_, b, _)) in ghost.StateEntries().Zip(full.StateEntries()))
            if (a is not null) b!.CopyFrom(a);
        full.Eval();
        Assert.Equal(full.Forward(Tensor.FromArray(xe, shape)).ToArray(), ghost.Forward(Tensor.FromArray(xe, shape)).ToArray());
    }

    [Fact]
    public void Training_DiffersFromWholeBatchStatistics()
    {
        // guards the test above: the virtual batches really are normalized separately
        var x = Tensor.FromArray(RandomNormal(8 * 3, 5), 8, 3);
        var ghost = new BatchNorm1d(3, virtualBatchSize: 4).Forward(x).ToArray();
        var whole = new BatchNorm1d(3).Forward(x).ToArray();
        Assert.True(ghost.Zip(whole, (a, b) => Math.Abs(a - b)).Max() > 1e-2);
    }

    [Fact]
    public void BatchNotAMultiple_IsAClearError_OnlyInTraining()
    {
        var bn = new BatchNorm2d(2, virtualBatchSize: 4);
        var x = Tensor.Zeros(6, 2, 3, 3);
        var e = Assert.Throws<ArgumentException>(() => bn.Forward(x));
        Assert.Contains("batch size 6", e.Message);
        Assert.Contains("not a multiple of the virtual batch size 4", e.Message);
        bn.Eval();
        Assert.Equal(x.Length, bn.Forward(x).Length); // inference never uses virtual batches
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNorm1d(3, virtualBatchSize: 0));
    }
}
