using NormNet.Data;
using NormNet.DistributedChild;

namespace NormNet.Tests.Distributed;

/// <summary>Sharded loaders (no MPI needed): every rank's shard of a batch is disjoint from the others and together
/// they are exactly the single-process batch, in every epoch, whatever the number of ranks.</summary>
public sealed class DataShardTests
{
    [Theory]
    [InlineData(2, 64)]
    [InlineData(3, 64)]
    [InlineData(4, 50)] // 512 = 10 x 50 + 12: the tail batch is sharded 3, 3, 3, 3
    public void Shards_PartitionTheSingleProcessBatches(int ranks, int batchSize)
    {
        var data = TrainingRecipe.Data();
        var whole = new DataLoader(data, batchSize, seed: 3);
        var shards = Enumerable.Range(0, ranks).Select(r => new DataLoader(data, batchSize, seed: 3) { Shard = new DataShard(r, ranks) }).ToArray();
        for (int step = 0; step < 2 * whole.BatchesPerEpoch; step++)
        {
            var expected = whole.Next();
            var rows = new float[expected.Size][];
            for (int r = 0; r < ranks; r++)
            {
                var part = shards[r].Next();
                Assert.Equal(expected.Size, part.GlobalSize);
                Assert.Equal(new DataShard(r, ranks).SizeOf(expected.Size), part.Size);
                for (int i = 0; i < part.Size; i++)
                {
                    int position = r + i * ranks; // strided, as DistributedSampler
                    Assert.Null(rows[position]);
                    rows[position] = part.Inputs.ReadOnlySpan.Slice(i * data.FeatureCount, data.FeatureCount).ToArray();
                    Assert.Equal(expected.Labels[position], part.Labels[i]);
                }
                Assert.Equal(whole.Position, shards[r].Position);
            }
            for (int i = 0; i < expected.Size; i++)
                Assert.Equal(expected.Inputs.ReadOnlySpan.Slice(i * data.FeatureCount, data.FeatureCount).ToArray(), rows[i]);
        }
    }

    [Fact]
    public void TailBatch_ThatWouldLeaveARankOneSample_IsSkipped()
    {
        var data = TrainingRecipe.Data(); // 512 = 8 x 63 + 8: a tail of 8, under 2 samples for each of 5 ranks
        var loader = new DataLoader(data, 63, seed: 1) { Shard = new DataShard(1, 5) };
        Assert.True(loader.SkipsSingleSampleBatch);
        Assert.Equal(8, loader.BatchesPerEpoch);
        Assert.False(new DataLoader(data, 63, seed: 1) { Shard = new DataShard(1, 4) }.SkipsSingleSampleBatch);
    }

    [Fact]
    public void Shard_WithMoreRanksThanTheBatch_IsRefused_NamingBoth()
    {
        var loader = new DataLoader(TrainingRecipe.Data(), 2, seed: 1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => loader.Shard = new DataShard(0, 3));
        Assert.Contains("at least the number of ranks, 3", e.Message);
        Assert.Contains("got 2", e.Message);
    }
}
