namespace NormNet.Layers;

/// <summary>Combines batch-norm statistics over the processes of a data-parallel job, so that a batch norm layer
/// normalizes with the statistics of the global batch (SyncBatchNorm). Set on a layer through
/// <see cref="BatchNormBase.StatisticsSync"/>; NormNet.Distributed's <c>SyncBatchNorm</c> implements it over a communicator.</summary>
/// <remarks>Every process calls each method in the same order with the same lengths (they are collectives).</remarks>
public interface IBatchStatisticsSync
{
    /// <summary>Replaces this process's per-channel count, mean and sum of squared deviations (M2) by those of the
    /// union of all processes' values, identical on every process, and returns the combined count.</summary>
    /// <param name="count">The values per channel here (may be 0).</param>
    /// <param name="mean">The per-channel means here (ignored when the count is 0); overwritten.</param>
    /// <param name="m2">The per-channel sums of squared deviations from the mean; overwritten.</param>
    long CombineMoments(long count, Span<double> mean, Span<double> m2);

    /// <summary>Replaces <paramref name="sums"/> by their element-wise sum over all processes (in one call).</summary>
    void SumOverProcesses(Span<double> sums);
}
