using NormNet.Distributed;
using NormNet.Layers;
using NormNet.Threading;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>The synchronized batch norm path in one process (a <see cref="SingleProcessCommunicator"/>, so no MPI):
/// it equals plain batch norm, gives the same bits for any thread count on inputs large enough to run in parallel,
/// and allocates nothing in a steady-state training step. The multi-rank results are tested under mpiexec
/// (<c>DistributedTests</c>).</summary>
public class SyncBatchNormStepTests
{
    private static Tensor Random(int seed, params int[] shape) =>
        Tensor.FromArray(RandomNormal(shape.Aggregate(1, (a, b) => a * b), seed, 0.5, 1.5), shape);

    private static BatchNormBase Layer(int[] shape, MemoryFormat format)
    {
        BatchNormBase bn = shape.Length == 2 ? new BatchNorm1d(shape[1]) : new BatchNorm2d(format == MemoryFormat.ChannelsLast ? shape[3] : shape[1], memoryFormat: format);
        var rng = new Random(7);
        var w = bn.Weight!.Value.Span;
        var b = bn.Bias!.Value.Span;
        for (int i = 0; i < w.Length; i++) (w[i], b[i]) = (0.5f + (float)rng.NextDouble(), (float)rng.NextDouble() - 0.5f);
        return bn;
    }

    private static (float[] Y, float[] Dx, float[] DGamma, float[] DBeta, float[] RunningVar) Step(int[] shape, MemoryFormat format, bool sync, int threads)
    {
        using var _ = ComputeSettings.Use(ComputeSettings.Default.WithMaxThreads(threads));
        var bn = Layer(shape, format);
        if (sync) bn.StatisticsSync = new SyncBatchNorm(SingleProcessCommunicator.Instance);
        bn.Train();
        var y = bn.Forward(Random(1, shape)).ToArray();
        var dx = bn.Backward(Random(2, shape)).ToArray();
        return (y, dx, bn.Weight!.Grad.ToArray(), bn.Bias!.Grad.ToArray(), bn.RunningVar!.ToArray());
    }

    public static TheoryData<int[], MemoryFormat> Shapes() => new()
    {
        { [16, 32, 24, 24], MemoryFormat.ChannelsFirst }, // planes, 294,912 values: parallel over channels
        { [16, 24, 24, 32], MemoryFormat.ChannelsLast },  // rows of 32 channels
        { [512, 300], MemoryFormat.ChannelsFirst },       // rows: 5 column blocks, row chunks
        { [128, 600], MemoryFormat.ChannelsFirst },       // more channels than fit on the stack: pooled constants
        { [5, 3], MemoryFormat.ChannelsFirst },           // small: inline, one chunk
    };

    [Theory, MemberData(nameof(Shapes))]
    public void Synchronized_IsBitIdenticalForAnyThreadCount_AndEqualsBatchNorm(int[] shape, MemoryFormat format)
    {
        var one = Step(shape, format, sync: true, threads: 1);
        foreach (int threads in new[] { 2, 3, 8 })
        {
            var many = Step(shape, format, sync: true, threads);
            Assert.True(one.Y.SequenceEqual(many.Y), $"y differs at {threads} threads");
            Assert.True(one.Dx.SequenceEqual(many.Dx), $"dx differs at {threads} threads");
            Assert.True(one.DGamma.SequenceEqual(many.DGamma), $"dgamma differs at {threads} threads");
            Assert.True(one.DBeta.SequenceEqual(many.DBeta), $"dbeta differs at {threads} threads");
        }
        var plain = Step(shape, format, sync: false, threads: 1);
        AssertClose(plain.Y, one.Y, 1e-5, 1e-5, "y");
        AssertClose(plain.Dx, one.Dx, 1e-5, 1e-4, "dx");
        AssertClose(plain.DGamma, one.DGamma, 1e-4, 1e-4, "dgamma");
        AssertClose(plain.DBeta, one.DBeta, 1e-4, 1e-4, "dbeta");
        AssertClose(plain.RunningVar, one.RunningVar, 1e-6, 1e-6, "running_var");
        Assert.Contains(one.Dx, v => Math.Abs(v) > 1e-3); // a trivially zero gradient would pass the comparisons
    }

    [Theory, MemberData(nameof(Shapes))]
    public void SteadyStateSynchronizedStep_AllocatesNothing(int[] shape, MemoryFormat format)
    {
        var bn = Layer(shape, format);
        bn.StatisticsSync = new SyncBatchNorm(SingleProcessCommunicator.Instance);
        var x = Random(1, shape);
        var g = Random(2, shape);
        void Steps(int count)
        {
            for (int i = 0; i < count; i++)
            {
                bn.Train();
                bn.Forward(x);
                bn.Backward(g);
            }
        }
        Steps(3);
        SteadyStateAllocation.AssertNone(() => Steps(10), "10 synchronized training steps");
    }

    private static void AssertClose(float[] expected, float[] actual, double abs, double rel, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]) - (abs + rel * Math.Abs(expected[i])));
        Assert.True(worst <= 0, $"{what}: worst excess over abs {abs} + rel {rel} * |ref| is {worst:G3}");
    }
}
