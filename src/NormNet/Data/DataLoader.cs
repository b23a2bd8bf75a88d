namespace NormNet.Data;

/// <summary>
/// Delivers an <see cref="ImageSet"/> in batches of scaled (and optionally standardized) images and labels,
/// reshuffled every epoch, as PyTorch's <c>DataLoader</c> with <c>ToTensor</c> and <c>Normalize</c>.
/// </summary>
/// <remarks>
/// <para>Sample order: with shuffling, epoch <c>e</c> uses a permutation drawn by a fresh <see cref="Rng"/> seeded
/// from a hash of (<see cref="Seed"/>, e), so it is a pure function of the two and the loader's whole resumable
/// state is its <see cref="Position"/> (epoch, index within the epoch). Without shuffling the order is 0..N-1.</para>
/// <para>Pixels are scaled as <c>byte / 255f</c> to [0, 1], then standardized by <see cref="Standardizer"/> if one is
/// given. Each epoch has <see cref="BatchesPerEpoch"/> batches of <see cref="BatchSize"/> images, the last one
/// smaller unless <see cref="DropLast"/>, in which case the remainder is skipped.</para>
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

    /// <summary>Creates a loader positioned at the start of epoch 0.</summary>
    /// <param name="data">The images and labels.</param>
    /// <param name="batchSize">Images per batch, at least 1 (and at most N when <paramref name="dropLast"/>).</param>
    /// <param name="seed">Seeds the per-epoch permutations.</param>
    /// <param name="shuffle">Whether to reshuffle every epoch (training) or keep the stored order (evaluation).</param>
    /// <param name="dropLast">Whether to skip the last, smaller batch of an epoch.</param>
    /// <param name="layout">Flattened (B, H * W) inputs for MLPs or (B, 1, H, W) for CNNs.</param>
    /// <param name="standardizer">Applied after pixel scaling, or null for plain [0, 1] pixels.</param>
    /// <exception cref="ArgumentException">An argument is out of range; the message gives the expected and actual values.</exception>
    public DataLoader(ImageSet data, int batchSize, ulong seed = 0, bool shuffle = true, bool dropLast = false,
        InputLayout layout = InputLayout.Flattened, Standardizer? standardizer = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"Expected a batch size of at least 1, got {batchSize}.");
        if (dropLast && batchSize > data.Count)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize,
                $"Expected a batch size of at most the data size, {data.Count}, with dropLast (no batch would be full), got {batchSize}.");
        long batchElements = (long)Math.Min(batchSize, data.Count) * data.PixelsPerImage;
        if (batchElements > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize,
                $"A batch of {batchSize} images of {data.Height}x{data.Width} needs {batchElements} floats: expected at most {Array.MaxLength}.");
        if (!Enum.IsDefined(layout))
            throw new ArgumentOutOfRangeException(nameof(layout), layout, $"Expected {InputLayout.Flattened} or {InputLayout.Image}, got {(int)layout}.");
        if (standardizer is not null && standardizer.FeatureCount != data.PixelsPerImage)
            throw new ArgumentException(
                $"Expected a standardizer of {data.PixelsPerImage} features ({data.Height}x{data.Width} pixels), got one of {standardizer.FeatureCount}.",
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

    /// <summary>The images and labels.</summary>
    public ImageSet Data { get; }

    /// <summary>Images per full batch.</summary>
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

    /// <summary>The number of batches in an epoch started from its beginning.</summary>
    public int BatchesPerEpoch => DropLast ? Data.Count / BatchSize : (int)(((long)Data.Count + BatchSize - 1) / BatchSize);

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
        int size = Math.Min(BatchSize, Data.Count - _index);
        var (inputs, labels) = Buffers(size);
        Fill(inputs.Span, labels, _index);
        var batch = new Batch(inputs, labels, _epoch, _index);
        _index += size;
        SkipToNextEpochIfDone();
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
        if (left == 0 || (DropLast && left < BatchSize))
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

    /// <summary>The reusable tensor and label array for a batch of <paramref name="size"/> images.</summary>
    private (Tensor Inputs, int[] Labels) Buffers(int size)
    {
        if (size == BatchSize)
        {
            _fullInputs ??= NewInputs(size);
            _fullLabels ??= new int[size];
            return (_fullInputs, _fullLabels);
        }
        if (_tailLabels is null || _tailLabels.Length != size)
        {
            _tailInputs = NewInputs(size);
            _tailLabels = new int[size];
        }
        return (_tailInputs!, _tailLabels);
    }

    private Tensor NewInputs(int size) => Layout == InputLayout.Flattened
        ? Tensor.Uninitialized(size, Data.PixelsPerImage)
        : Tensor.Uninitialized(size, 1, Data.Height, Data.Width);

    /// <summary>Scales the images at <c>order[start..start + labels.Length]</c> into <paramref name="inputs"/>.</summary>
    private void Fill(Span<float> inputs, int[] labels, int start)
    {
        int features = Data.PixelsPerImage;
        var images = Data.Images;
        var sourceLabels = Data.Labels;
        var table = PixelScale.Table;
        for (int r = 0; r < labels.Length; r++)
        {
            int sample = _order[start + r];
            var source = images.Slice(sample * features, features);
            var row = inputs.Slice(r * features, features);
            for (int f = 0; f < features; f++) row[f] = table[source[f]];
            labels[r] = sourceLabels[sample];
        }
        Standardizer?.Apply(inputs);
    }

    /// <summary>The SplitMix64 finalizer, a bijective 64-bit hash.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
