using NormNet.Data;
using static NormNet.Tests.Data.IdxTestData;

namespace NormNet.Tests.Data;

/// <summary>The data loader: coverage, shuffling, batch sizes, exact resumption and no allocation per batch.</summary>
public class DataLoaderTests
{
    /// <summary>The sample indices (decoded from the pixels) and labels of a batch.</summary>
    private static int[] Samples(Batch batch)
    {
        int features = batch.Inputs.Length / batch.Size;
        var ids = new int[batch.Size];
        for (int r = 0; r < batch.Size; r++) ids[r] = SampleIndex(batch.Inputs.ReadOnlySpan.Slice(r * features, features));
        return ids;
    }

    private static List<int[]> Epoch(DataLoader loader) => loader.EnumerateEpoch().Select(Samples).ToList();

    [Fact]
    public void EveryEpochCoversEverySampleOnce_InANewOrder()
    {
        var data = Set(103);
        var loader = new DataLoader(data, batchSize: 10, seed: 7);
        Assert.Equal(11, loader.BatchesPerEpoch);
        var orders = new List<int[]>();
        for (int e = 0; e < 3; e++)
        {
            Assert.Equal(new LoaderPosition(e, 0), loader.Position);
            var batches = loader.EnumerateEpoch().Select(b => (Ids: Samples(b), Labels: b.Labels.ToArray(), b.Epoch, b.Start)).ToList();
            Assert.Equal([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3], batches.Select(b => b.Ids.Length));
            Assert.All(batches, b => Assert.Equal(e, b.Epoch));
            Assert.Equal(Enumerable.Range(0, 11).Select(i => 10 * i), batches.Select(b => b.Start));
            var order = batches.SelectMany(b => b.Ids).ToArray();
            Assert.Equal(Enumerable.Range(0, 103), order.Order());
            Assert.Equal(order.Select(i => (int)data.Labels[i]), batches.SelectMany(b => b.Labels));
            orders.Add(order);
        }
        Assert.NotEqual(orders[0], orders[1]);
        Assert.NotEqual(orders[1], orders[2]);
        Assert.NotEqual(Enumerable.Range(0, 103), orders[0]);
    }

    [Fact]
    public void SameSeedSameOrder_OtherSeedOtherOrder()
    {
        var data = Set(64);
        List<int[]> Run(ulong seed)
        {
            var loader = new DataLoader(data, batchSize: 16, seed: seed);
            return Enumerable.Range(0, 3).SelectMany(_ => Epoch(loader)).ToList();
        }
        Assert.Equal(Run(5), Run(5));
        Assert.NotEqual(Run(5).SelectMany(x => x), Run(6).SelectMany(x => x));
    }

    [Fact]
    public void DropLast_SkipsTheRemainder()
    {
        var loader = new DataLoader(Set(103), batchSize: 10, seed: 1, dropLast: true);
        Assert.Equal(10, loader.BatchesPerEpoch);
        for (int e = 0; e < 2; e++)
        {
            var batches = Epoch(loader);
            Assert.Equal(10, batches.Count);
            Assert.All(batches, b => Assert.Equal(10, b.Length));
            Assert.Equal(100, batches.SelectMany(b => b).Distinct().Count());
        }
        Assert.Equal(new LoaderPosition(2, 0), loader.Position);
        // a batch as large as the data gives one batch per epoch
        var whole = new DataLoader(Set(9), batchSize: 9, dropLast: true);
        Assert.Equal(9, whole.Next().Size);
        Assert.Equal(new LoaderPosition(1, 0), whole.Position);
    }

    [Fact]
    public void NoShuffle_KeepsTheStoredOrder_AndBigBatchesHoldEverything()
    {
        var loader = new DataLoader(Set(25), batchSize: 40, shuffle: false);
        Assert.Equal(1, loader.BatchesPerEpoch);
        for (int e = 0; e < 2; e++) Assert.Equal(Enumerable.Range(0, 25), Samples(loader.Next()));
    }

    [Fact]
    public void ImageLayout_GivesTheSameValuesAsFlattened()
    {
        var data = Set(20, h: 5, w: 6);
        var flat = new DataLoader(data, batchSize: 8, seed: 3).Next();
        var image = new DataLoader(data, batchSize: 8, seed: 3, layout: InputLayout.Image).Next();
        Assert.Equal("(8, 30)", flat.Inputs.ShapeString);
        Assert.Equal("(8, 1, 5, 6)", image.Inputs.ShapeString);
        Assert.Equal(flat.Inputs.ToArray(), image.Inputs.ToArray());
        int sample = Samples(flat)[2];
        Assert.Equal(data.Image(sample).ToArray().Select(b => b / 255f), flat.Inputs.ToArray()[60..90]);
        Assert.All(flat.Inputs.ToArray(), v => Assert.InRange(v, 0f, 1f));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ResumesExactlyFromASavedPosition(bool dropLast)
    {
        var data = Set(53);
        var standardizer = Standardizer.Fit(data);
        DataLoader Make() => new(data, batchSize: 8, seed: 11, dropLast: dropLast, standardizer: standardizer);
        var reference = Make();
        var expected = Enumerable.Range(0, 30)
            .Select(_ => reference.Next())
            .Select(b => (Inputs: b.Inputs.ToArray(), Labels: b.Labels.ToArray(), b.Epoch, b.Start))
            .ToList();
        foreach (int stop in new[] { 0, 1, 6, 7, 13, 20 })
        {
            var interrupted = Make();
            for (int i = 0; i < stop; i++) interrupted.Next();
            LoaderPosition saved = interrupted.Position;
            var resumed = Make();
            resumed.Position = saved; // e.g. restored from a checkpoint by a new process
            for (int i = stop; i < 30; i++)
            {
                var b = resumed.Next();
                Assert.Equal(expected[i].Inputs, b.Inputs.ToArray());
                Assert.Equal(expected[i].Labels, b.Labels);
                Assert.Equal((expected[i].Epoch, expected[i].Start), (b.Epoch, b.Start));
            }
        }
    }

    [Fact]
    public void Position_IsNormalizedAndValidated()
    {
        var loader = new DataLoader(Set(10), batchSize: 4, dropLast: true);
        loader.Position = new LoaderPosition(3, 10);
        Assert.Equal(new LoaderPosition(4, 0), loader.Position);
        loader.Position = new LoaderPosition(3, 7); // 3 left, less than a batch
        Assert.Equal(new LoaderPosition(4, 0), loader.Position);
        loader.Position = new LoaderPosition(3, 5);
        Assert.Equal((3, 5), (loader.Epoch, loader.Index));
        Assert.Equal([5], loader.EnumerateEpoch().Select(b => b.Start)); // 5..8, then 1 left: the epoch ends
        Assert.Equal(new LoaderPosition(4, 0), loader.Position);
    }

    [Fact]
    public void EnumerateEpoch_YieldsTheRestOfTheCurrentEpoch()
    {
        var loader = new DataLoader(Set(11), batchSize: 3, seed: 2);
        loader.Next();
        Assert.Equal([3, 6, 9], loader.EnumerateEpoch().Select(b => b.Start));
        Assert.Equal(new LoaderPosition(1, 0), loader.Position);
        Assert.Equal(4, loader.EnumerateEpoch().Count());
        Assert.Equal(new LoaderPosition(2, 0), loader.Position);
    }

    [Fact]
    public void AShufflingLoader_SkipsALastBatchOfOneSample_WhichBatchNormCannotTrainOn()
    {
        // 61 samples at batch 60 used to stop BN training at step 2 ("Expected more than 1 value per channel")
        var train = new DataLoader(Set(61), batchSize: 60, seed: 1);
        Assert.True(train.SkipsSingleSampleBatch);
        Assert.Equal(1, train.BatchesPerEpoch);
        Assert.Equal([60, 60, 60], Enumerable.Range(0, 3).Select(_ => train.Next().Size));
        Assert.Equal(3, train.Epoch);
        var model = new NormNet.Layers.Sequential(new NormNet.Layers.Linear(12, 4, rng: new Rng(1)), new NormNet.Layers.BatchNorm1d(4));
        for (int i = 0; i < 3; i++) model.Forward(train.Next().Inputs);

        // evaluation keeps every sample: eval mode uses the running statistics, so one sample is fine
        var test = new DataLoader(Set(61), batchSize: 60, shuffle: false);
        Assert.False(test.SkipsSingleSampleBatch);
        Assert.Equal([60, 1], test.EnumerateEpoch().Select(b => b.Size));
        model.Eval();
        Assert.Equal(4, model.Forward(test.Next().Inputs).Dim(1));
        Assert.False(new DataLoader(Set(62), batchSize: 60, seed: 1).SkipsSingleSampleBatch);
    }

    [Fact]
    public void SteadyStateAllocatesNothingPerBatch()
    {
        var data = Set(50, h: 7, w: 7);
        var loader = new DataLoader(data, batchSize: 8, seed: 4, layout: InputLayout.Image, standardizer: Standardizer.Fit(data));
        for (int i = 0; i < 20; i++) loader.Next(); // warm-up: buffers for full and last batches, JIT
        int labels = 0;
        SteadyStateAllocation.AssertNone(() =>
        {
            for (int i = 0; i < 100; i++) labels += loader.Next().Labels[0]; // crosses 14 epoch boundaries
        }, "Next(), 100 batches");

        // the epoch enumerator is one object per epoch, nothing per batch
        SteadyStateAllocation.AssertNone(() =>
        {
            long first = 0;
            int count = 0;
            foreach (var batch in loader.EnumerateEpoch())
            {
                if (count++ == 0) first = GC.GetAllocatedBytesForCurrentThread();
                labels += batch.Labels[0];
            }
            return GC.GetAllocatedBytesForCurrentThread() - first;
        }, "EnumerateEpoch after its first batch");
        Assert.True(labels >= 0);
    }

    [Fact]
    public void Prefetch_ReadsOnlyTheSamplesOwnRows_AndRejectsABadIndex()
    {
        // the loader prefetches the next batch's samples: every index, the last included, stays inside the arrays
        var images = Set(5, h: 7, w: 9);
        var table = TensorSet.ForClassification(Enumerable.Range(0, 15).Select(i => (float)i).ToArray(), [3], [0, 1, 0, 1, 0]);
        foreach (Dataset data in new Dataset[] { images, table })
        {
            for (int i = 0; i < data.Count; i++) data.Prefetch(i);
            Assert.Throws<ArgumentOutOfRangeException>(() => data.Prefetch(data.Count));
            Assert.Throws<ArgumentOutOfRangeException>(() => data.Prefetch(-1));
        }
        Assert.Equal(Enumerable.Range(0, 15).Select(i => (float)i), table.Features.ToArray());
    }

    [Fact]
    public void BadArgumentsThrowClearly()
    {
        var data = Set(10, h: 2, w: 3);
        Assert.Contains("Expected a batch size of at least 1, got 0",
            Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(data, batchSize: 0)).Message);
        Assert.Contains("Expected a batch size of at most the data size, 10, with dropLast (no batch would be full), got 11",
            Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(data, batchSize: 11, dropLast: true)).Message);
        Assert.Contains("Expected a standardizer of 6 features (1x2x3 per sample), got one of 4",
            Assert.Throws<ArgumentException>(() => new DataLoader(data, 2, standardizer: new Standardizer(new float[4], [1, 1, 1, 1]))).Message);
        Assert.Contains("got 7", Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(data, 2, layout: (InputLayout)7)).Message);
        var loader = new DataLoader(data, 2);
        Assert.Contains("Expected an epoch of at least 0, got -1",
            Assert.Throws<ArgumentOutOfRangeException>(() => loader.Position = new LoaderPosition(-1, 0)).Message);
        Assert.Contains("Expected an index within the epoch in [0, 10], got 11",
            Assert.Throws<ArgumentOutOfRangeException>(() => loader.Position = new LoaderPosition(0, 11)).Message);
        Assert.Throws<ArgumentNullException>(() => new DataLoader(null!, 2));
    }
}
