using System.Globalization;

namespace NormNet.Models;

/// <summary>The normalization layers of the built-in families (Wu and He's comparison: batch, group, layer, instance;
/// plus batch renormalization and ghost batch norm), or none.</summary>
public enum NormKind
{
    /// <summary>BatchNorm1d/2d.</summary>
    Batch,

    /// <summary>GroupNorm(<see cref="Normalization.Groups"/>) after convolutions and fully connected layers.</summary>
    Group,

    /// <summary>LayerNorm over each layer's whole output per sample.</summary>
    Layer,

    /// <summary>InstanceNorm2d after convolutions; nothing after fully connected layers (one value per channel).</summary>
    Instance,

    /// <summary>BatchRenorm1d/2d (rMax 3, dMax 5).</summary>
    Renorm,

    /// <summary>BatchNorm1d/2d with virtual batches of <see cref="Normalization.VirtualBatchSize"/> samples.</summary>
    Ghost,

    /// <summary>No normalization layers.</summary>
    None,
}

/// <summary>Which normalization a built-in family puts after its convolutions and hidden fully connected layers.</summary>
/// <param name="Kind">The kind.</param>
/// <param name="Groups">GroupNorm's group count (32 in Wu and He); it must divide every layer's channels.</param>
/// <param name="VirtualBatchSize">Ghost batch norm's virtual batch size; it must divide the batch size.</param>
public sealed record Normalization(NormKind Kind, int Groups = 32, int VirtualBatchSize = 16)
{
    /// <summary>The names <see cref="Parse"/> accepts: batch, group, layer, instance, renorm, ghost, none.</summary>
    public static readonly IReadOnlyList<string> Names = ["batch", "group", "layer", "instance", "renorm", "ghost", "none"];

    /// <summary>Batch normalization.</summary>
    public static Normalization Batch { get; } = new(NormKind.Batch);

    /// <summary>No normalization.</summary>
    public static Normalization None { get; } = new(NormKind.None);

    /// <summary>Batch norm when <paramref name="batchNorm"/>, else none.</summary>
    public static Normalization FromBatchNorm(bool batchNorm) => batchNorm ? Batch : None;

    /// <summary>A kind by name (<see cref="Names"/>), with its group count or virtual batch size.</summary>
    /// <exception cref="ArgumentException">Unknown name, or a size below 1.</exception>
    public static Normalization Parse(string name, int groups = 32, int virtualBatchSize = 16)
    {
        int index = Names.ToList().IndexOf(name);
        if (index < 0) throw new ArgumentException($"Unknown normalization '{name}'; expected one of: {string.Join(", ", Names)}.", nameof(name));
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(virtualBatchSize, 1);
        return new Normalization((NormKind)index, groups, virtualBatchSize);
    }

    /// <summary>Whether a layer precedes this normalization's affine shift, so that a bias before it is redundant.</summary>
    internal bool RemovesBias(bool afterConvolution) => Kind switch
    {
        NormKind.None => false,
        NormKind.Instance => afterConvolution,
        _ => true,
    };

    /// <summary>The layer after a hidden fully connected layer of (features), or null.</summary>
    internal LayerSpec? AfterLinear() => Kind switch
    {
        NormKind.Batch => NetworkFamilies.Layer("BatchNorm1d"),
        NormKind.Ghost => NetworkFamilies.Layer("BatchNorm1d", ("virtual_batch_size", VirtualBatchSize)),
        NormKind.Renorm => NetworkFamilies.Layer("BatchRenorm1d"),
        NormKind.Group => NetworkFamilies.Layer("GroupNorm", ("num_groups", Groups)),
        NormKind.Layer => NetworkFamilies.Layer("LayerNorm"),
        _ => null,
    };

    /// <summary>The layer after a convolution of (channels, height, width), or null.</summary>
    internal LayerSpec? AfterConv() => Kind switch
    {
        NormKind.Batch => NetworkFamilies.Layer("BatchNorm2d"),
        NormKind.Ghost => NetworkFamilies.Layer("BatchNorm2d", ("virtual_batch_size", VirtualBatchSize)),
        NormKind.Renorm => NetworkFamilies.Layer("BatchRenorm2d"),
        NormKind.Group => NetworkFamilies.Layer("GroupNorm", ("num_groups", Groups)),
        NormKind.Layer => NetworkFamilies.Layer("LayerNorm"),
        NormKind.Instance => NetworkFamilies.Layer("InstanceNorm2d", ("affine", true)),
        _ => null,
    };

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        NormKind.Group => string.Create(CultureInfo.InvariantCulture, $"group ({Groups} groups)"),
        NormKind.Ghost => string.Create(CultureInfo.InvariantCulture, $"ghost (virtual batches of {VirtualBatchSize})"),
        _ => Names[(int)Kind],
    };
}
