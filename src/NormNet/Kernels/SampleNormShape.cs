namespace NormNet.Kernels;

/// <summary>
/// How a per-sample normalization input is laid out: a contiguous (Outer, Groups, ChannelsPerGroup, Inner) array,
/// normalized over each group's ChannelsPerGroup * Inner contiguous values (one "row"), with a per-channel affine
/// indexed by <c>g * ChannelsPerGroup + k</c>.
/// </summary>
/// <remarks>
/// GroupNorm over (N, C, *) with G groups is (N, G, C / G, prod(*)); InstanceNorm over (N, C, *) is (N, C, 1, prod(*));
/// LayerNorm over normalized shape D (product of the trailing dimensions) is (prod(leading), 1, D, 1), whose affine is
/// then elementwise over D. Inner = 1 selects the loops whose affine varies per element.
/// </remarks>
/// <param name="Outer">Batch size (times any leading dimensions, for LayerNorm).</param>
/// <param name="Groups">Groups per sample: G for GroupNorm, C for InstanceNorm, 1 for LayerNorm.</param>
/// <param name="ChannelsPerGroup">Affine channels in each group: C / G for GroupNorm, 1 for InstanceNorm, D for LayerNorm.</param>
/// <param name="Inner">Values per channel: the spatial size (1 for LayerNorm).</param>
public readonly record struct SampleNormShape(int Outer, int Groups, int ChannelsPerGroup, int Inner)
{
    /// <summary>Number of normalized groups (rows): Outer * Groups; the length of the mean and invstd spans.</summary>
    public int Rows => checked(Outer * Groups);

    /// <summary>Values in each normalized group: ChannelsPerGroup * Inner.</summary>
    public long RowLength => (long)ChannelsPerGroup * Inner;

    /// <summary>Affine channels: Groups * ChannelsPerGroup; the length of gamma and beta.</summary>
    public int Channels => checked(Groups * ChannelsPerGroup);

    /// <summary>Total number of elements.</summary>
    public long Elements => (long)Rows * RowLength;

    internal void Validate()
    {
        if (Outer <= 0 || Groups <= 0 || ChannelsPerGroup <= 0 || Inner <= 0)
            throw new ArgumentException($"Normalization shape {this} must have positive dimensions.");
        if (Elements > int.MaxValue)
            throw new ArgumentException($"Normalization shape {this} has {Elements} elements; at most {int.MaxValue} are supported.");
    }

    internal void CheckLength(int length, string name, long expected)
    {
        if (length != expected)
            throw new ArgumentException($"{name} has {length} elements; expected {expected} for {this}.", name);
    }

    internal void CheckOptional(int length, string name)
    {
        if (length != 0 && length != Channels)
            throw new ArgumentException($"{name} has {length} elements; expected {Channels} (one per affine channel) or 0 (none).", name);
    }
}
