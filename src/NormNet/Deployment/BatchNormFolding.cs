using System.Globalization;
using NormNet.Layers;

namespace NormNet.Deployment;

/// <summary>
/// Folds eval-mode batch normalization into the layer before it, so inference does one multiply-add less per value
/// and the deployed network has no batch norm layer: for the BN's <c>s = gamma / sqrt(running_var + eps)</c>,
/// <c>W' = W * s</c> per output channel and <c>b' = (b - running_mean) * s + beta</c> (b = 0 when the layer has no bias;
/// the folded layer then gets one).
/// </summary>
/// <remarks>
/// <para>A BN folds into a <see cref="Linear"/> (BatchNorm1d, BatchRenorm1d) or <see cref="Conv2d"/> (channels-first
/// BatchNorm2d, FrozenBatchNorm2d, BatchRenorm2d) that directly precedes it in a <see cref="Sequential"/>, at any depth
/// (nested Sequentials, <see cref="Residual"/> bodies and shortcuts). Any other such layer (and an InstanceNorm with
/// running statistics) becomes a <see cref="ChannelAffine"/>. The scale and offset are computed in double and rounded
/// once. GroupNorm, LayerNorm and InstanceNorm without running statistics normalize each sample with its own statistics
/// at inference too, which no fixed map reproduces: folding refuses them (ONNX export without folding supports them).</para>
/// <para>The result is a new model (parameters deep-copied; the input model is not changed) in eval mode, meant for
/// inference: it computes what the input model computes in eval mode. State names change where layers were
/// removed (Sequential children are renumbered).</para>
/// </remarks>
public static class BatchNormFolding
{
    /// <summary>Returns a new eval-mode model equal to <paramref name="model"/> in eval mode, with no batch norm layer.</summary>
    /// <exception cref="InvalidOperationException">A module is in training mode: call <see cref="Module.Eval"/> first.</exception>
    /// <exception cref="NotSupportedException">A batch norm layer does not track running statistics (it normalizes with
    /// batch statistics even in eval mode, which no fixed map reproduces) or is channels-last without a Conv2d before it;
    /// or a module is of a type this class does not know. The message names the layer's type and state-dict path.</exception>
    public static Module Fold(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var (name, module) in model.NamedModules())
            if (module.Training)
                throw new InvalidOperationException(
                    $"Cannot fold batch norm of a model in training mode ({Describe(module, name)} is training): call Eval() first. " +
                    "Folding bakes in the running statistics, which only eval mode uses.");
        return FoldEvalSemantics(model);
    }

    /// <summary>Folds regardless of the modules' modes, reproducing eval mode (for the ONNX exporter, which always
    /// exports the inference graph).</summary>
    internal static Module FoldEvalSemantics(Module model)
    {
        var folded = FoldModule(model, "");
        folded.Eval();
        return folded;
    }

    /// <summary>"BatchNorm2d at '3.body.1'" (or "at the root").</summary>
    internal static string Describe(Module module, string path) =>
        $"{module.GetType().Name} at {(path.Length == 0 ? "the root" : $"'{path}'")}";

    internal static string Join(string path, string child) => path.Length == 0 ? child : $"{path}.{child}";

    private static Module FoldModule(Module module, string path) => module switch
    {
        Sequential sequential => FoldSequential(sequential, path),
        Residual residual => new Residual(
            FoldModule(residual.Body, Join(path, "body")),
            residual.Shortcut is null ? null : FoldModule(residual.Shortcut, Join(path, "shortcut"))),
        ResidualReLU fused => new ResidualReLU((Residual)FoldModule(fused.Block, Join(path, "0"))),
        GroupNorm or LayerNorm or InstanceNormBase { TrackRunningStats: false } => throw new NotSupportedException(
            $"Cannot fold {Describe(module, path)}: it normalizes each sample with that sample's own statistics at inference too, " +
            "so no fixed per-channel map reproduces it. Export it to ONNX without folding instead."),
        _ when FixedBatchNorm.Of(module, path) is { } fixedNorm => ToChannelAffine(fixedNorm),
        _ => Copy(module, path),
    };

    private static Sequential FoldSequential(Sequential sequential, string path)
    {
        var result = new Sequential();
        for (int i = 0; i < sequential.Count; i++)
        {
            var child = sequential[i];
            string childPath = Join(path, i.ToString(CultureInfo.InvariantCulture));
            string nextPath = Join(path, (i + 1).ToString(CultureInfo.InvariantCulture));
            if (i + 1 < sequential.Count && FoldsInto(child, sequential[i + 1], nextPath) is { } bn)
            {
                result.Add(child is Linear linear ? FoldLinear(linear, bn) : FoldConv((Conv2d)child, bn));
                i++;
            }
            else
            {
                result.Add(FoldModule(child, childPath));
            }
        }
        return result;
    }

    /// <summary>The fixed batch norm <paramref name="next"/> when it folds into <paramref name="previous"/>, else null.</summary>
    private static FixedBatchNorm? FoldsInto(Module previous, Module next, string nextPath)
    {
        if (previous is not (Linear or Conv2d) || next is GroupNorm or LayerNorm or InstanceNormBase) return null;
        var bn = FixedBatchNorm.Of(next, nextPath);
        return (previous, bn?.FoldsAfter) switch
        {
            (Linear linear, { } t) when t == typeof(Linear) => linear.OutFeatures == bn!.NumFeatures ? bn : null,
            (Conv2d conv, { } t) when t == typeof(Conv2d) => conv.OutChannels == bn!.NumFeatures ? bn : null,
            _ => null,
        };
    }

    private static ChannelAffine ToChannelAffine(FixedBatchNorm bn)
    {
        var (scale, shift) = bn.Affine();
        return new ChannelAffine(scale.Select(v => (float)v).ToArray(), shift.Select(v => (float)v).ToArray());
    }

    private static Linear FoldLinear(Linear linear, FixedBatchNorm bn)
    {
        var folded = new Linear(linear.InFeatures, linear.OutFeatures, bias: true, rng: new Rng(0));
        FoldRows(linear.Weight.Value, linear.Bias?.Value, bn, folded.Weight.Value, folded.Bias!.Value);
        return folded;
    }

    private static Conv2d FoldConv(Conv2d conv, FixedBatchNorm bn)
    {
        var folded = new Conv2d(conv.InChannels, conv.OutChannels, conv.KernelSize, conv.Stride, conv.Padding, bias: true, rng: new Rng(0));
        FoldRows(conv.Weight.Value, conv.Bias?.Value, bn, folded.Weight.Value, folded.Bias!.Value);
        return folded;
    }

    /// <summary>W'[o, :] = W[o, :] * s[o]; b'[o] = b[o] * s[o] + t[o] = (b[o] - mean[o]) * s[o] + beta[o].</summary>
    private static void FoldRows(Tensor weight, Tensor? bias, FixedBatchNorm bn, Tensor foldedWeight, Tensor foldedBias)
    {
        var (scale, shift) = bn.Affine();
        int rows = scale.Length, columns = weight.Length / rows;
        var w = weight.ReadOnlySpan;
        var fw = foldedWeight.Span;
        var fb = foldedBias.Span;
        for (int o = 0; o < rows; o++)
        {
            for (int j = o * columns; j < (o + 1) * columns; j++) fw[j] = (float)(w[j] * scale[o]);
            double b = bias is null ? 0 : bias.ReadOnlySpan[o];
            fb[o] = (float)(b * scale[o] + shift[o]);
        }
    }

    /// <summary>A deep copy of a leaf layer (new parameter tensors; new layers draw their throw-away initial weights
    /// from a private generator, so the global one is not advanced).</summary>
    private static Module Copy(Module module, string path)
    {
        switch (module)
        {
            case Linear l:
                var linear = new Linear(l.InFeatures, l.OutFeatures, l.Bias is not null, new Rng(0));
                CopyParameters(l, linear);
                return linear;
            case Conv2d c:
                var conv = new Conv2d(c.InChannels, c.OutChannels, c.KernelSize, c.Stride, c.Padding, c.Bias is not null, new Rng(0));
                CopyParameters(c, conv);
                return conv;
            case ConvReLU2d f:
                return new ConvReLU2d((Conv2d)Copy(f.Conv, Join(path, "0")));
            case ConvReLUMaxPool2d f:
                return new ConvReLUMaxPool2d((Conv2d)Copy(f.Conv, Join(path, "0")), (MaxPool2d)Copy(f.Pool, Join(path, "1")));
            case FrozenLinear f:
                return f.Copy();
            case ChannelAffine a:
                return new ChannelAffine(a.Scale.Value.ToArray(), a.Shift.Value.ToArray());
            case MaxPool2d p: return new MaxPool2d(p.KernelSize, p.Stride, p.Padding);
            case AvgPool2d p: return new AvgPool2d(p.KernelSize, p.Stride, p.Padding);
            case GlobalAvgPool2d: return new GlobalAvgPool2d();
            case Flatten: return new Flatten();
            case ReLU: return new ReLU();
            case Sigmoid: return new Sigmoid();
            case Tanh: return new Tanh();
            case Dropout d: return new Dropout(d.P, new Rng(0));
            default:
                throw new NotSupportedException($"Cannot fold {Describe(module, path)}: batch norm folding does not know how to copy this layer type.");
        }
    }

    private static void CopyParameters(Module source, Module target)
    {
        using var targets = target.NamedParameters().GetEnumerator();
        foreach (var (_, p) in source.NamedParameters())
        {
            targets.MoveNext();
            targets.Current.Parameter.Value.CopyFrom(p.Value);
        }
    }
}
