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
/// <para>A BN folds into a <see cref="Linear"/> (BatchNorm1d) or <see cref="Conv2d"/> (channels-first BatchNorm2d)
/// that directly precedes it in a <see cref="Sequential"/>, at any depth (nested Sequentials, <see cref="Residual"/>
/// bodies and shortcuts). Any other BN becomes a <see cref="ChannelAffine"/>. The scale and offset are computed in
/// double and rounded once.</para>
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
        BatchNormBase bn => ToChannelAffine(bn, path),
        _ => Copy(module, path),
    };

    private static Sequential FoldSequential(Sequential sequential, string path)
    {
        var result = new Sequential();
        for (int i = 0; i < sequential.Count; i++)
        {
            var child = sequential[i];
            string childPath = Join(path, i.ToString(CultureInfo.InvariantCulture));
            if (i + 1 < sequential.Count && sequential[i + 1] is BatchNormBase bn && FoldsInto(child, bn))
            {
                string bnPath = Join(path, (i + 1).ToString(CultureInfo.InvariantCulture));
                result.Add(child is Linear linear ? FoldLinear(linear, bn, bnPath) : FoldConv((Conv2d)child, bn, bnPath));
                i++;
            }
            else
            {
                result.Add(FoldModule(child, childPath));
            }
        }
        return result;
    }

    private static bool FoldsInto(Module previous, BatchNormBase bn) => (previous, bn) switch
    {
        (Linear linear, BatchNorm1d) => linear.OutFeatures == bn.NumFeatures,
        (Conv2d conv, BatchNorm2d { MemoryFormat: MemoryFormat.ChannelsFirst }) => conv.OutChannels == bn.NumFeatures,
        _ => false,
    };

    /// <summary>The eval-mode BN as a per-channel map: s = gamma / sqrt(var + eps), t = beta - mean * s.</summary>
    internal static (double[] Scale, double[] Shift) AffineOf(BatchNormBase bn, string path)
    {
        if (!bn.TrackRunningStats)
            throw new NotSupportedException(
                $"{Describe(bn, path)} has trackRunningStats = false: it normalizes with batch statistics even in eval mode, " +
                "so it cannot be folded or exported as a fixed per-channel map.");
        int c = bn.NumFeatures;
        var mean = bn.RunningMean!.ReadOnlySpan;
        var variance = bn.RunningVar!.ReadOnlySpan;
        var scale = new double[c];
        var shift = new double[c];
        for (int i = 0; i < c; i++)
        {
            double gamma = bn.Weight?.Value.ReadOnlySpan[i] ?? 1.0, beta = bn.Bias?.Value.ReadOnlySpan[i] ?? 0.0;
            scale[i] = gamma / Math.Sqrt(variance[i] + bn.Eps);
            shift[i] = beta - mean[i] * scale[i];
            if (!double.IsFinite(scale[i]) || !double.IsFinite(shift[i])) // a negative or NaN variance, a NaN weight, ...
                throw new InvalidOperationException(
                    $"{Describe(bn, path)}: channel {i} (running_var {variance[i]}, running_mean {mean[i]}, weight {gamma}, bias {beta}) " +
                    "folds to a non-finite scale or shift; refusing to fold a broken model.");
        }
        return (scale, shift);
    }

    private static ChannelAffine ToChannelAffine(BatchNormBase bn, string path)
    {
        var (scale, shift) = AffineOf(bn, path);
        if (bn is BatchNorm2d { MemoryFormat: MemoryFormat.ChannelsLast })
            throw new NotSupportedException($"{Describe(bn, path)} is channels-last and has no Conv2d before it; folding supports channels-first input only.");
        return new ChannelAffine(scale.Select(v => (float)v).ToArray(), shift.Select(v => (float)v).ToArray());
    }

    private static Linear FoldLinear(Linear linear, BatchNormBase bn, string bnPath)
    {
        var folded = new Linear(linear.InFeatures, linear.OutFeatures, bias: true, rng: new Rng(0));
        FoldRows(linear.Weight.Value, linear.Bias?.Value, bn, bnPath, folded.Weight.Value, folded.Bias!.Value);
        return folded;
    }

    private static Conv2d FoldConv(Conv2d conv, BatchNormBase bn, string bnPath)
    {
        var folded = new Conv2d(conv.InChannels, conv.OutChannels, conv.KernelSize, conv.Stride, conv.Padding, bias: true, rng: new Rng(0));
        FoldRows(conv.Weight.Value, conv.Bias?.Value, bn, bnPath, folded.Weight.Value, folded.Bias!.Value);
        return folded;
    }

    /// <summary>W'[o, :] = W[o, :] * s[o]; b'[o] = b[o] * s[o] + t[o] = (b[o] - mean[o]) * s[o] + beta[o].</summary>
    private static void FoldRows(Tensor weight, Tensor? bias, BatchNormBase bn, string bnPath, Tensor foldedWeight, Tensor foldedBias)
    {
        var (scale, shift) = AffineOf(bn, bnPath);
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
