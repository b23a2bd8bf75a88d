namespace NormNet.Data;

/// <summary>
/// Delivers a <see cref="Dataset"/> in batches of features (images scaled to [0, 1]; optionally standardized) and
/// targets, reshuffled every epoch, as PyTorch's <c>DataLoader</c> with <c>ToTensor</c> and <c>Normalize</c>.
/// </summary>
/// <remarks>
/// <para>Sample order: with shuffling, epoch <c>e</c> uses a permutation drawn by a fresh <see cref="Rng"/> seeded
/// from a hash of (<see cref="Seed"/>, e), so it is a pure function of the two and the loader's whole resumable
/// state is its <see cref="Position"/> (epoch, index within the epoch). Without shuffling the order is 0..N-1.</para>
/// <para>Features come from <see cref="Dataset.CopyFeatures"/> (image pixels scaled as <c>byte / 255f</c> to [0, 1]), then
/// are standardized by <see cref="Standardizer"/> if one is given. Each epoch has <see cref="BatchesPerEpoch"/> batches of
/// <see cref="BatchSize"/> samples, the last one smaller unless <see cref="DropLast"/>, in which case the remainder is
/// skipped. A shuffling loader also skips a last batch of a single sample (<see cref="SkipsSingleSampleBatch"/>): batch
/// norm cannot train on one value per channel, and the sample is in another batch in the next epoch.</para>
/// <para>Allocation: the input tensor and label array of a full batch, and those of a smaller last batch, are
/// created on first use and then reused, so the steady state allocates nothing per batch. A batch's contents are
/// therefore only valid until the loader produces another batch of the same size. Not thread-safe.</para>
/// </remarks>
public sealed class DataLoader
{
    private readonly int[] _order;
    private readonly Rng _rng = new(0);
    private int _orderEpoch = -1;
    private int _epoch, _index;
    private Tensor? _fullInputs, _tailInputs;
    private int[]? _fullLabels, _tailLabels;
    private Tensor? _fullTargets, _tailTargets;
    private DataShard _shard = DataShard.Whole;

    /// <summary>Creates a loader positioned at the start of epoch 0.</summary>
    /// <param name="data">The samples and their targets.</param>
    /// <param name="batchSize">Samples per batch, at least 1 (and at most N when <paramref name="dropLast"/>).</param>
    /// <param name="seed">Seeds the per-epoch permutations.</param>
    /// <param name="shuffle">Whether to reshuffle every epoch (training) or keep the stored order (evaluation).</param>
    /// <param name="dropLast">Whether to skip the last, smaller batch of an epoch.</param>
    /// <param name="layout">Flattened (B, F) inputs for MLPs, or (B, C, H, W) images for CNNs.</param>
    /// <param name="standardizer">Applied after pixel scaling, or null for the features as they are.</param>
    /// <exception cref="ArgumentException">An argument is out of range; the message gives the expected and actual values.</exception>
    public DataLoader(Dataset data, int batchSize, ulong seed = 0, bool shuffle = true, bool dropLast = false,
        InputLayout layout = InputLayout.Flattened, Standardizer? standardizer = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"Expected a batch size of at least 1, got {batchSize}.");
        if (dropLast && batchSize > data.Count)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize,
                $"Expected a batch size of at most the data size, {data.Count}, with dropLast (no batch would be full), got {batchSize}.");
        long batchElements = (long)Math.Min(batchSize, data.Count) * data.FeatureCount;
        if (batchElements > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize,
                $"A batch of {batchSize} samples of {data.ShapeString} needs {batchElements} floats: expected at most {Array.MaxLength}.");
        if (!Enum.IsDefined(layout))
            throw new ArgumentOutOfRangeException(nameof(layout), layout, $"Expected {InputLayout.Flattened} or {InputLayout.Image}, got {(int)layout}.");
        if (layout == InputLayout.Image && !data.IsImage)
            throw new ArgumentException($"{data.Name}: image layout (B, C, H, W) needs samples of 3 dimensions, got samples of {data.ShapeString}.", nameof(layout));
        if (standardizer is not null && standardizer.FeatureCount != data.FeatureCount)
            throw new ArgumentException(
                $"Expected a standardizer of {data.FeatureCount} features ({data.ShapeString} per sample), got one of {standardizer.FeatureCount}.",
                nameof(standardizer));
        Data = data;
        BatchSize = batchSize;
        Seed = seed;
        Shuffle = shuffle;
        DropLast = dropLast;
        Layout = layout;
        Standardizer = standardizer;
        _order = new int[data.Count];
    }

    /// <summary>The samples and their targets.</summary>
    public Dataset Data { get; }

    /// <summary>Samples per full batch.</summary>
    public int BatchSize { get; }

    /// <summary>The seed of the per-epoch permutations.</summary>
    public ulong Seed { get; }

    /// <summary>Whether every epoch is reshuffled.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether the last, smaller batch of each epoch is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>The shape of the input tensors.</summary>
    public InputLayout Layout { get; }

    /// <summary>The standardization applied after pixel scaling, or null.</summary>
    public Standardizer? Standardizer { get; }

    /// <summary>Whether this loader skips the last batch of each epoch because it would hold a single sample (a shuffling
    /// loader with a batch size above 1 over a data set that leaves one sample over); callers may say so once. With a
    /// <see cref="Shard"/> of several ranks, a last batch that would leave some rank fewer than 2 samples is skipped too.</summary>
    public bool SkipsSingleSampleBatch => Shuffle && !DropLast && BatchSize > 1 && Data.Count % BatchSize is int tail && tail > 0 && tail < 2 * _shard.Count;

    /// <summary>The part of each batch this loader delivers (data-parallel training); <see cref="DataShard.Whole"/> by
    /// default. <see cref="BatchSize"/> and <see cref="Position"/> stay global: every rank steps through the same batches.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The rank is outside [0, count) or the batch size is below the count.</exception>
    public DataShard Shard
    {
        get => _shard;
        set
        {
            value.Validate(BatchSize);
            _shard = value;
            _fullInputs = _tailInputs = _fullTargets = _tailTargets = null;
            _fullLabels = _tailLabels = null;
            SkipToNextEpochIfDone();
        }
    }

    /// <summary>The number of batches in an epoch started from its beginning.</summary>
    public int BatchesPerEpoch => DropLast || SkipsSingleSampleBatch ? Data.Count / BatchSize : (int)(((long)Data.Count + BatchSize - 1) / BatchSize);

    /// <summary>The epoch of the next batch.</summary>
    public int Epoch => _epoch;

    /// <summary>The index, within the epoch's sample order, of the next batch's first sample.</summary>
    public int Index => _index;

    /// <summary>The position of the next batch; save it in a checkpoint and set it to resume exactly.</summary>
    /// <remarks>A position at the end of an epoch (or, with <see cref="DropLast"/>, with less than a batch left)
    /// is moved to the start of the next epoch, which is how <see cref="Next"/> leaves it.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">The epoch is negative or the index is outside [0, N].</exception>
    public LoaderPosition Position
    {
        get => new(_epoch, _index);
        set
        {
            if (value.Epoch < 0)
                throw new ArgumentOutOfRangeException(nameof(value), value, $"Expected an epoch of at least 0, got {value.Epoch}.");
            if ((uint)value.Index > (uint)Data.Count)
                throw new ArgumentOutOfRangeException(nameof(value), value, $"Expected an index within the epoch in [0, {Data.Count}], got {value.Index}.");
            _epoch = value.Epoch;
            _index = value.Index;
            SkipToNextEpochIfDone();
        }
    }

    /// <summary>Returns the batch at <see cref="Position"/> and advances past it, into the next epoch after the last batch.</summary>
    public Batch Next()
    {
        if (_orderEpoch != _epoch) MakeOrder(_epoch);
        int size = Math.Min(BatchSize, Data.Count - _index), local = _shard.SizeOf(size);
        var (inputs, labels, targets) = Buffers(local, size == BatchSize);
        Fill(inputs.Span, labels, targets, _index, local);
        var batch = new Batch(inputs, labels, targets, local, _epoch, _index, size);
        _index += size;
        SkipToNextEpochIfDone();
        PrefetchNext();
        return batch;
    }

    /// <summary>Yields the batches from <see cref="Position"/> to the end of its epoch (all of them when at the start
    /// of an epoch), advancing the position as each is yielded; afterwards the position is the next epoch's start.</summary>
    public IEnumerable<Batch> EnumerateEpoch()
    {
        int epoch = _epoch;
        while (_epoch == epoch) yield return Next();
    }

    /// <summary>The seed of epoch <paramref name="epoch"/>'s permutation: a hash of (seed, epoch), so nearby seeds
    /// and epochs give unrelated streams.</summary>
    internal static ulong EpochSeed(ulong seed, int epoch) => Mix(seed ^ Mix(0x6A09E667F3BCC909UL + (ulong)epoch));

    private void SkipToNextEpochIfDone()
    {
        int left = Data.Count - _index;
        if (left == 0 || (DropLast && left < BatchSize) || (left < 2 * _shard.Count && SkipsSingleSampleBatch))
        {
            _epoch = checked(_epoch + 1);
            _index = 0;
        }
    }

    private void MakeOrder(int epoch)
    {
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        if (Shuffle)
        {
            _rng.Reseed(EpochSeed(Seed, epoch));
            _rng.Shuffle(_order.AsSpan());
        }
        _orderEpoch = epoch;
    }

    /// <summary>The reusable input tensor, label array and target tensor for (this shard's part of) a batch of <paramref name="size"/> samples.</summary>
    private (Tensor Inputs, int[] Labels, Tensor? Targets) Buffers(int size, bool full)
    {
        bool regression = Data.Task == TaskKind.Regression;
        if (full)
        {
            _fullInputs ??= NewInputs(size);
            _fullLabels ??= new int[regression ? 0 : size];
            if (regression) _fullTargets ??= Tensor.Uninitialized(size, Data.TargetCount);
            return (_fullInputs, _fullLabels, _fullTargets);
        }
        if (_tailInputs is null || _tailInputs.Dim(0) != size)
        {
            _tailInputs = NewInputs(size);
            _tailLabels = new int[regression ? 0 : size];
            _tailTargets = regression ? Tensor.Uninitialized(size, Data.TargetCount) : null;
        }
        return (_tailInputs, _tailLabels!, _tailTargets);
    }

    private Tensor NewInputs(int size) => Layout == InputLayout.Flattened
        ? Tensor.Uninitialized(size, Data.FeatureCount)
        : Tensor.Uninitialized([size, .. Data.SampleShape]);

    /// <summary>Copies this shard's <paramref name="size"/> samples of the batch at <c>order[start..]</c> (positions
    /// rank, rank + count, ...) into the batch buffers.</summary>
    private void Fill(Span<float> inputs, int[] labels, Tensor? targets, int start, int size)
    {
        int features = Data.FeatureCount, outputs = Data.TargetCount;
        var sourceLabels = Data.Labels;
        var sourceTargets = Data.Targets;
        for (int r = 0; r < size; r++)
        {
            int sample = _order[start + _shard.Rank + r * _shard.Count];
            Data.CopyFeatures(sample, inputs.Slice(r * features, features));
            if (targets is null) labels[r] = sourceLabels[sample];
            else sourceTargets.Slice(sample * outputs, outputs).CopyTo(targets.Span.Slice(r * outputs, outputs));
        }
        Standardizer?.Apply(inputs);
    }

    /// <summary>Starts loading the next batch's samples into the caches while the caller trains on this one: shuffled samples
    /// are scattered over the whole set, which is larger than the caches for real images, so each row would otherwise wait on memory.</summary>
    private void PrefetchNext()
    {
        if (_orderEpoch != _epoch) return;
        int size = Math.Min(BatchSize, Data.Count - _index), local = _shard.SizeOf(size);
        for (int r = 0; r < local; r++) Data.Prefetch(_order[_index + _shard.Rank + r * _shard.Count]);
    }

    /// <summary>The SplitMix64 finalizer, a bijective 64-bit hash.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
