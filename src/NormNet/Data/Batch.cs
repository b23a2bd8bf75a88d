namespace NormNet.Data;

/// <summary>One batch from a <see cref="DataLoader"/>: B scaled (and optionally standardized) images and their labels.</summary>
/// <remarks>The tensor and the label array belong to the loader and are overwritten by a later batch of the same size;
/// copy (<see cref="Tensor.Clone"/>) what you keep. This is what lets the loader allocate nothing per batch.</remarks>
public readonly struct Batch
{
    internal Batch(Tensor inputs, int[] labels, int epoch, int start)
    {
        Inputs = inputs;
        Labels = labels;
        Epoch = epoch;
        Start = start;
    }

    /// <summary>The images, (B, H * W) or (B, 1, H, W) according to <see cref="DataLoader.Layout"/>.</summary>
    public Tensor Inputs { get; }

    /// <summary>The B labels, each below the class count.</summary>
    public int[] Labels { get; }

    /// <summary>B, the number of images (the last batch of an epoch may be smaller than the batch size).</summary>
    public int Size => Labels.Length;

    /// <summary>The epoch this batch belongs to.</summary>
    public int Epoch { get; }

    /// <summary>Where the batch starts in its epoch's sample order.</summary>
    public int Start { get; }
}
