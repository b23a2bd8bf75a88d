using NormNet.Layers;

namespace NormNet.Distributed;

/// <summary>Synchronized batch normalization over the ranks of a communicator, as PyTorch's <c>SyncBatchNorm</c>:
/// set on batch norm layers (<see cref="ConvertSyncBatchNorm"/>, like <c>convert_sync_batchnorm</c>), it makes their
/// training statistics those of the global batch. Without it, each rank's batch norm uses its own shard of the batch,
/// as PyTorch's DistributedDataParallel does.</summary>
/// <remarks><para>Forward: each rank's (count, mean, M2) per channel are gathered (one allgather of 1 + 2C doubles)
/// and merged on every rank in rank order with Chan et al.'s pairwise formula, in double: n = nA + nB,
/// delta = meanB - meanA, mean = meanA + delta * nB / n, M2 = M2A + M2B + delta^2 * nA * nB / n. Never
/// E[x^2] - E[x]^2; ranks may hold different counts, zero included. Since every rank merges the same numbers in the
/// same order, the statistics (and so the running statistics) are bit-identical on all ranks.</para>
/// <para>Backward: sum(dy) and sum(dy * xhat) per channel, 2C doubles, are summed over ranks in one allreduce.</para></remarks>
public sealed class SyncBatchNorm : IBatchStatisticsSync
{
    private readonly ICommunicator _comm;
    private double[] _local = [], _gathered = []; // reused: a training step allocates nothing here

    /// <summary>Synchronizes over the ranks of <paramref name="comm"/>.</summary>
    public SyncBatchNorm(ICommunicator comm) => _comm = comm ?? throw new ArgumentNullException(nameof(comm));

    /// <summary>Sets every batch norm layer of <paramref name="model"/> to synchronize its training statistics over
    /// <paramref name="comm"/> (one <see cref="SyncBatchNorm"/> per layer), and returns the model. Parameters, buffers
    /// and their names do not change, so checkpoints and exports are the same as without.</summary>
    public static Module ConvertSyncBatchNorm(Module model, ICommunicator comm)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(comm);
        foreach (var (_, module) in model.NamedModules())
            if (module is BatchNormBase bn) bn.StatisticsSync = new SyncBatchNorm(comm);
        return model;
    }

    /// <summary>The number of batch norm layers of <paramref name="model"/> that synchronize their statistics.</summary>
    public static int CountSynchronized(Module model) =>
        model.NamedModules().Count(m => m.Module is BatchNormBase { StatisticsSync: not null });

    /// <inheritdoc />
    public long CombineMoments(long count, Span<double> mean, Span<double> m2)
    {
        int c = mean.Length;
        if (m2.Length != c) throw new ArgumentException($"Expected {c} sums of squared deviations (one per mean), got {m2.Length}.", nameof(m2));
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int row = 1 + 2 * c;
        if (_local.Length != row) _local = new double[row];
        _local[0] = count; // exact below 2^53
        mean.CopyTo(_local.AsSpan(1, c));
        m2.CopyTo(_local.AsSpan(1 + c, c));
        if (_gathered.Length != row * _comm.Size) _gathered = new double[row * _comm.Size];
        _comm.AllGather<double>(_local, _gathered);
        double total = 0;
        for (int r = 0; r < _comm.Size; r++)
        {
            var part = _gathered.AsSpan(r * row, row);
            for (int j = 0; j < c; j++) Merge(total, ref mean[j], ref m2[j], part[0], part[1 + j], part[1 + c + j], first: r == 0);
            total += part[0];
        }
        return (long)total;
    }

    /// <summary>Merges (nB, meanB, m2B) into the running (nA, mean, m2) by Chan's formula; the first part initializes.</summary>
    internal static void Merge(double nA, ref double mean, ref double m2, double nB, double meanB, double m2B, bool first)
    {
        if (first || nA == 0)
        {
            (mean, m2) = nB == 0 ? (0.0, 0.0) : (meanB, m2B);
            return;
        }
        if (nB == 0) return;
        double n = nA + nB, delta = meanB - mean;
        mean += delta * (nB / n);
        m2 += m2B + delta * delta * (nA * nB / n);
    }

    /// <inheritdoc />
    public void SumOverProcesses(Span<double> sums) => _comm.AllReduceSum(sums);
}
