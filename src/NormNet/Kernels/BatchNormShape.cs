namespace NormNet.Kernels;

/// <summary>
/// How a batch-norm input is laid out: a contiguous (Outer, Channels, Inner) array, normalized per channel
/// over Outer * Inner values.
/// </summary>
/// <remarks>
/// (N, C) is (N, C, 1); (N, C, L) is (N, C, L); (N, C, H, W) is (N, C, H*W); (N, C, D, H, W) is (N, C, D*H*W);
/// channels-last (N, H, W, C) is (N*H*W, C, 1). Inner = 1 selects the kernels that vectorize across channels.
/// </remarks>
/// <param name="Outer">Batch size times any dimensions before the channel axis.</param>
/// <param name="Channels">Number of channels (features).</param>
/// <param name="Inner">Product of the dimensions after the channel axis (1 for (N, C) and channels-last).</param>
public readonly record struct BatchNormShape(int Outer, int Channels, int Inner)
{
    /// <summary>Values per channel that the statistics run over.</summary>
    public long PerChannel => (long)Outer * Inner;

    /// <summary>Total number of elements.</summary>
    public long Elements => (long)Outer * Channels * Inner;

    internal void Validate()
    {
        if (Outer <= 0 || Channels <= 0 || Inner <= 0)
            throw new ArgumentException($"Batch-norm shape {this} must have positive dimensions.");
    }

    internal void CheckLength(int length, string name, long expected)
    {
        if (length != expected)
            throw new ArgumentException($"{name} has {length} elements; expected {expected} for {this}.", name);
    }

    internal void CheckOptional(int length, string name)
    {
        if (length != 0 && length != Channels)
            throw new ArgumentException($"{name} has {length} elements; expected {Channels} (one per channel) or 0 (none).", name);
    }
}
