using System.Globalization;
using NormNet.Layers;

namespace NormNet.Deployment;

/// <summary>
/// A layer that at inference is batch norm with fixed statistics, y = (x - mean) / sqrt(var + eps) * weight + bias
/// per channel: BatchNorm1d/2d/3d with running statistics (frozen or not), FrozenBatchNorm2d, BatchRenorm1d/2d (its
/// running_var is defined so) and InstanceNorm1d/2d with running statistics. What folding and ONNX export need of it.
/// </summary>
/// <param name="Layer">The layer.</param>
/// <param name="Eps">Its epsilon.</param>
/// <param name="Weight">gamma, or null for 1.</param>
/// <param name="Bias">beta, or null for 0.</param>
/// <param name="RunningMean">The fixed mean.</param>
/// <param name="RunningVar">The fixed variance.</param>
/// <param name="Ranks">The input ranks it takes (batched).</param>
/// <param name="Layout">Its input layout for messages, with C written out.</param>
/// <param name="FoldsAfter">The layer type it folds into when that directly precedes it (Linear or Conv2d), or null.</param>
/// <param name="OnnxMomentum">ONNX's momentum attribute (weight of the old value); only meaningful to a training graph.</param>
internal sealed record FixedBatchNorm(Module Layer, double Eps, Tensor? Weight, Tensor? Bias, Tensor RunningMean, Tensor RunningVar,
    int[] Ranks, string Layout, Type? FoldsAfter, float OnnxMomentum)
{
    /// <summary>C, the number of channels.</summary>
    public int NumFeatures => RunningMean.Length;

    /// <summary>The fixed form of <paramref name="module"/>, or null when it is no batch-norm-like layer.</summary>
    /// <exception cref="NotSupportedException">A batch-norm-like layer that normalizes with batch statistics even in eval
    /// mode, or a channels-last one: the message names it and why.</exception>
    public static FixedBatchNorm? Of(Module module, string path)
    {
        switch (module)
        {
            case BatchNormBase bn:
                if (!bn.TrackRunningStats)
                    throw new NotSupportedException(
                        $"{BatchNormFolding.Describe(bn, path)} has trackRunningStats = false: it normalizes with batch statistics even in eval mode, " +
                        "so it cannot be folded or exported as a fixed per-channel map.");
                if (bn is BatchNorm2d { MemoryFormat: MemoryFormat.ChannelsLast })
                    throw new NotSupportedException($"{BatchNormFolding.Describe(bn, path)} is channels-last; folding and ONNX export support channels-first input only.");
                var (ranks, layout, after) = bn switch
                {
                    BatchNorm1d => (new[] { 2, 3 }, "(N, C) or (N, C, L)", typeof(Linear)),
                    BatchNorm2d => ([4], "(N, C, H, W)", typeof(Conv2d)),
                    _ => (new[] { 5 }, "(N, C, D, H, W)", (Type?)null),
                };
                return new(bn, bn.Eps, bn.Weight?.Value, bn.Bias?.Value, bn.RunningMean!, bn.RunningVar!, ranks, Spell(layout, bn.NumFeatures), after,
                    bn.Momentum is { } m ? (float)(1 - m) : 0.9f);
            case FrozenBatchNorm2d f:
                return new(f, f.Eps, f.Weight, f.Bias, f.RunningMean, f.RunningVar, [4], Spell("(N, C, H, W)", f.NumFeatures), typeof(Conv2d), 0.9f);
            case BatchRenormBase r:
                return r is BatchRenorm1d
                    ? new(r, r.Eps, r.Weight?.Value, r.Bias?.Value, r.RunningMean, r.RunningVar, [2, 3], Spell("(N, C) or (N, C, L)", r.NumFeatures), typeof(Linear), (float)(1 - r.Momentum))
                    : new(r, r.Eps, r.Weight?.Value, r.Bias?.Value, r.RunningMean, r.RunningVar, [4], Spell("(N, C, H, W)", r.NumFeatures), typeof(Conv2d), (float)(1 - r.Momentum));
            case InstanceNormBase { TrackRunningStats: true } i:
                return new(i, i.Eps, i.Weight?.Value, i.Bias?.Value, i.RunningMean!, i.RunningVar!, [i is InstanceNorm1d ? 3 : 4],
                    Spell(i is InstanceNorm1d ? "(N, C, L)" : "(N, C, H, W)", i.NumFeatures), null, (float)(1 - i.Momentum));
            default:
                return null;
        }
    }

    /// <summary>The eval-mode map per channel in double: s = gamma / sqrt(var + eps), t = beta - mean * s.</summary>
    public (double[] Scale, double[] Shift) Affine()
    {
        int c = NumFeatures;
        var mean = RunningMean.ReadOnlySpan;
        var variance = RunningVar.ReadOnlySpan;
        var scale = new double[c];
        var shift = new double[c];
        for (int i = 0; i < c; i++)
        {
            double gamma = Weight?.ReadOnlySpan[i] ?? 1.0, beta = Bias?.ReadOnlySpan[i] ?? 0.0;
            scale[i] = gamma / Math.Sqrt(variance[i] + Eps);
            shift[i] = beta - mean[i] * scale[i];
            if (!double.IsFinite(scale[i]) || !double.IsFinite(shift[i])) // a negative or NaN variance, a NaN weight, ...
                throw new InvalidOperationException(
                    $"{Layer.GetType().Name}: channel {i} (running_var {variance[i]}, running_mean {mean[i]}, weight {gamma}, bias {beta}) " +
                    "folds to a non-finite scale or shift; refusing to fold a broken model.");
        }
        return (scale, shift);
    }

    private static string Spell(string layout, int c) => layout.Replace("C", c.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
