using System.Globalization;
using NormNet.Distributed;
using NormNet.Layers;

namespace NormNet.DistributedChild;

/// <summary>SyncBatchNorm on shards of unequal sizes (given per rank, zero allowed) against one BatchNorm on the
/// concatenated batch: outputs, input gradients, parameter gradients (summed over ranks) and running statistics, over
/// three training steps, for BatchNorm1d (the row kernels) and BatchNorm2d (the plane kernels).</summary>
internal static class SyncBatchNormCheck
{
    private const double Tolerance = 2e-5; // abs + rel * |ref|: float rounding of values of order 1-10

    public static int Run(ICommunicator comm, string[] args)
    {
        int[] sizes = args[0].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (sizes.Length != comm.Size) return Scenarios.Fail(comm, $"expected {comm.Size} shard sizes, got {args[0]}");
        var failures = new List<string>();
        double worst = 0;
        foreach (bool planes in new[] { false, true })
        {
            Func<BatchNormBase> make = planes ? () => new BatchNorm2d(3) : () => new BatchNorm1d(5);
            int[] sample = planes ? [3, 4, 5] : [5];
            worst = Math.Max(worst, Compare(comm, sizes, make, sample, failures));
        }
        foreach (var f in failures) Console.WriteLine($"rank {comm.Rank}: FAIL {f}");
        Console.WriteLine($"rank {comm.Rank}: {(failures.Count == 0 ? "ok" : "failed")} shards {args[0]}, worst error {worst:e2}");
        return failures.Count == 0 ? 0 : 1;
    }

    private static double Compare(ICommunicator comm, int[] sizes, Func<BatchNormBase> make, int[] sample, List<string> failures)
    {
        var rng = new Rng(7); // the same global batches on every rank
        var reference = make();
        var synced = make();
        synced.StatisticsSync = new SyncBatchNorm(comm);
        int total = sizes.Sum(), first = sizes.Take(comm.Rank).Sum(), mine = sizes[comm.Rank];
        int rowLength = sample.Aggregate(1, (a, b) => a * b);
        double worst = 0;
        string name = synced.GetType().Name;
        for (int step = 0; step < 3; step++)
        {
            var x = Random(rng, [total, .. sample], mean: 3 + step, std: 2);
            var dy = Random(rng, [total, .. sample], mean: 0.1, std: 1);
            var y = reference.Forward(x);
            reference.ZeroGrad();
            var dx = reference.Backward(dy);
            var ys = synced.Forward(Rows(x, first, mine, sample));
            synced.ZeroGrad();
            var dxs = synced.Backward(Rows(dy, first, mine, sample));
            worst = Math.Max(worst, Check($"{name} step {step} output", y.ReadOnlySpan.Slice(first * rowLength, mine * rowLength), ys.ReadOnlySpan, failures));
            worst = Math.Max(worst, Check($"{name} step {step} input gradient", dx.ReadOnlySpan.Slice(first * rowLength, mine * rowLength), dxs.ReadOnlySpan, failures));
            foreach (var (p, q) in new[] { (reference.Weight!, synced.Weight!), (reference.Bias!, synced.Bias!) })
            {
                var summed = p.Grad.ReadOnlySpan.ToArray().Select(v => 0.0).ToArray();
                for (int j = 0; j < summed.Length; j++) summed[j] = q.Grad.ReadOnlySpan[j];
                comm.AllReduceSum(summed);
                worst = Math.Max(worst, Check($"{name} step {step} parameter gradient", p.Grad.ReadOnlySpan, summed.Select(v => (float)v).ToArray(), failures));
            }
        }
        worst = Math.Max(worst, Check($"{name} running_mean", reference.RunningMean!.ReadOnlySpan, synced.RunningMean!.ReadOnlySpan, failures));
        worst = Math.Max(worst, Check($"{name} running_var", reference.RunningVar!.ReadOnlySpan, synced.RunningVar!.ReadOnlySpan, failures));
        SameOnEveryRank(comm, $"{name} running statistics", [.. synced.RunningMean!.ReadOnlySpan, .. synced.RunningVar!.ReadOnlySpan], failures);
        if (synced.NumBatchesTracked != 3) failures.Add($"{name}: num_batches_tracked is {synced.NumBatchesTracked}, expected 3");
        return worst;
    }

    private static double Check(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, List<string> failures)
    {
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(expected[i] - actual[i]) / (1 + Math.Abs(expected[i]));
            if (!(err <= Tolerance)) { failures.Add($"{what}[{i}]: expected {expected[i]}, got {actual[i]}"); return err; }
            worst = Math.Max(worst, err);
        }
        return worst;
    }

    /// <summary>Checks that <paramref name="values"/> are bit-identical on every rank.</summary>
    public static void SameOnEveryRank(ICommunicator comm, string what, ReadOnlySpan<float> values, List<string> failures)
    {
        var all = new float[values.Length * comm.Size];
        comm.AllGather(values, all);
        for (int r = 0; r < comm.Size; r++)
            for (int i = 0; i < values.Length; i++)
                if (BitConverter.SingleToInt32Bits(all[r * values.Length + i]) != BitConverter.SingleToInt32Bits(values[i]))
                {
                    failures.Add($"{what}[{i}] differs between rank {r} ({all[r * values.Length + i]:R}) and rank {comm.Rank} ({values[i]:R})");
                    return;
                }
    }

    private static Tensor Random(Rng rng, int[] shape, double mean, double std)
    {
        var t = Tensor.Uninitialized(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)(mean + std * rng.NextNormal());
        return t;
    }

    private static Tensor Rows(Tensor t, int first, int count, int[] sample)
    {
        int rowLength = t.Length / t.Dim(0);
        var part = Tensor.Uninitialized([count, .. sample]);
        t.ReadOnlySpan.Slice(first * rowLength, count * rowLength).CopyTo(part.Span);
        return part;
    }
}
