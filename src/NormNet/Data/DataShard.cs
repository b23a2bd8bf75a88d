namespace NormNet.Data;

/// <summary>Which part of every global batch a <see cref="DataLoader"/> delivers in data-parallel training: rank
/// <paramref name="Rank"/> of <paramref name="Count"/> takes the samples at positions Rank, Rank + Count, Rank + 2 Count, ...
/// of each batch, as PyTorch's <c>DistributedSampler</c> strides over its indices (without padding: shards of one
/// batch differ by at most one sample, and together they are the batch exactly once).</summary>
/// <remarks>The global batches, and the order of the samples, depend only on the loader's seed, not on the number
/// of ranks, so a run can resume on a different number of ranks.</remarks>
/// <param name="Rank">This process's rank, in [0, Count).</param>
/// <param name="Count">The number of ranks sharing each batch, at least 1.</param>
public readonly record struct DataShard(int Rank, int Count)
{
    /// <summary>The whole batch: rank 0 of 1.</summary>
    public static DataShard Whole => new(0, 1);

    /// <summary>The number of this shard's samples in a global batch of <paramref name="batchSize"/>.</summary>
    public int SizeOf(int batchSize) => batchSize > Rank ? (batchSize - Rank + Count - 1) / Count : 0;

    internal void Validate(int batchSize)
    {
        if (Count < 1 || (uint)Rank >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(Rank), this, $"Expected a rank in [0, count) and a count of at least 1, got rank {Rank} of {Count}.");
        if (batchSize < Count)
            throw new ArgumentOutOfRangeException(nameof(Count), this,
                $"Expected a (global) batch size of at least the number of ranks, {Count}, so that every rank gets a sample; got {batchSize}.");
    }
}
