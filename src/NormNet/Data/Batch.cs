namespace NormNet.Data;

/// <summary>One batch from a <see cref="DataLoader"/>: B samples (scaled, optionally standardized) and their labels or targets.</summary>
/// <remarks>The tensor and the label array belong to the loader and are overwritten by a later batch of the same size;
/// copy (<see cref="Tensor.Clone"/>) what you keep. This is what lets the loader allocate nothing per batch.</remarks>
public readonly struct Batch
{
    internal Batch(Tensor inputs, int[] labels, Tensor? targets, int size, int epoch, int start, int globalSize)
    {
        GlobalSize = globalSize;
        Inputs = inputs;
        Labels = labels;
        Targets = targets;
        Size = size;
        Epoch = epoch;
        Start = start;
    }

    /// <summary>The features, (B, F) or (B, C, H, W) according to <see cref="DataLoader.Layout"/>.</summary>
    public Tensor Inputs { get; }

    /// <summary>The B class labels, each below the class count (empty for regression).</summary>
    public int[] Labels { get; }

    /// <summary>The regression targets, (B, T); null for classification.</summary>
    public Tensor? Targets { get; }

    /// <summary>B, the number of samples here (the last batch of an epoch may be smaller than the batch size; a shard
    /// holds its part of the global batch).</summary>
    public int Size { get; }

    /// <summary>The size of the global batch this one is a shard of (<see cref="DataLoader.Shard"/>); equal to
    /// <see cref="Size"/> without sharding.</summary>
    public int GlobalSize { get; }

    /// <summary>The epoch this batch belongs to.</summary>
    public int Epoch { get; }

    /// <summary>Where the batch starts in its epoch's sample order.</summary>
    public int Start { get; }
}
