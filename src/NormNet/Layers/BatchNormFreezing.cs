namespace NormNet.Layers;

/// <summary>
/// Freezes every batch norm layer of a model for fine-tuning (the usual recipe for detection and segmentation
/// backbones, whose per-GPU batches are too small for batch statistics): see <see cref="BatchNormBase.Frozen"/>.
/// </summary>
/// <remarks>
/// A frozen layer normalizes with its running statistics in training mode too, never updates them, gives its weight
/// and bias no gradient and lists them as buffers, not parameters. A later <see cref="Module.Train"/> does not
/// unfreeze it; <see cref="Unfreeze"/> does. Eval mode is different: <see cref="Module.Eval"/> is undone by the
/// next <see cref="Module.Train"/>, switches every layer (dropout too), and leaves gamma and beta learning.
/// Freeze before building the optimizer, so that it never holds the frozen weights.
/// </remarks>
public static class BatchNormFreezing
{
    /// <summary>Freezes every <see cref="BatchNormBase"/> in <paramref name="model"/> (at any depth); returns how many.</summary>
    /// <exception cref="InvalidOperationException">A batch norm layer has no running statistics; the message names its
    /// path. No layer is changed then.</exception>
    public static int Freeze(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = model.NamedModules().Where(m => m.Module is BatchNormBase).ToList();
        foreach (var (name, module) in layers)
            if (!((BatchNormBase)module).TrackRunningStats)
                throw new InvalidOperationException(
                    $"Cannot freeze {module.GetType().Name} at {(name.Length == 0 ? "the root" : $"'{name}'")}: it has trackRunningStats = false, " +
                    "so it has no running statistics to normalize with.");
        foreach (var (_, module) in layers) ((BatchNormBase)module).Frozen = true;
        return layers.Count;
    }

    /// <summary>Unfreezes every batch norm layer in <paramref name="model"/>; returns how many were frozen.</summary>
    public static int Unfreeze(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        int count = 0;
        foreach (var (_, module) in model.NamedModules())
            if (module is BatchNormBase { Frozen: true } bn)
            {
                bn.Frozen = false;
                count++;
            }
        return count;
    }
}
