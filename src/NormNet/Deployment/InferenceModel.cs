using NormNet.Layers;

namespace NormNet.Deployment;

/// <summary>
/// Builds the network to deploy from a trained one: batch norm folded into the layer before it
/// (<see cref="BatchNormFolding.Fold"/>), then each <see cref="Conv2d"/> directly followed by a <see cref="ReLU"/> fused
/// into one <see cref="ConvReLU2d"/>, whose ReLU costs no pass of its own over the output (with a 2x2 max pooling after
/// the ReLU, the three into one <see cref="ConvReLUMaxPool2d"/>, whose full-size output is never stored), each <see cref="Residual"/>
/// block directly followed by a ReLU into one <see cref="ResidualReLU"/> (the addition and the ReLU in its body's last
/// convolution's epilogue), and each <see cref="Linear"/> made a <see cref="FrozenLinear"/>, whose weight is transposed once
/// here instead of on every call.
/// </summary>
/// <remarks>The result is a new model in eval mode (the input model is not changed) that computes what the input model
/// computes in eval mode, up to the rounding of folding (the fused ReLU and the frozen Linear layers change no bits). It is
/// a snapshot: its weights are copies (the Linear ones transposed, as buffers), so train the input model and build the
/// inference model again to deploy new weights. Children are renumbered where
/// layers were merged, as folding does. Fusing looks inside nested <see cref="Sequential"/>s and <see cref="Residual"/>
/// bodies and shortcuts, as folding does.</remarks>
public static class InferenceModel
{
    /// <summary>Returns the inference model of <paramref name="model"/> (in eval mode).</summary>
    /// <exception cref="InvalidOperationException">A module is in training mode: call <see cref="Module.Eval"/> first.</exception>
    /// <exception cref="NotSupportedException">Batch norm folding refuses the model (see <see cref="BatchNormFolding.Fold"/>).</exception>
    public static Module Create(Module model)
    {
        var fused = Fuse(BatchNormFolding.Fold(model));
        fused.Eval();
        return fused;
    }

    /// <summary>The same layers with each Conv2d + ReLU (+ MaxPool2d(2)) of a Sequential replaced by a ConvReLU2d (ConvReLUMaxPool2d) holding that Conv2d,
    /// each Residual + ReLU by a ResidualReLU holding that (fused) block, and each Linear by a FrozenLinear (the other layers are moved into the new containers, not copied: for a model that
    /// is itself a fresh copy).</summary>
    internal static Module Fuse(Module module) => module switch
    {
        Sequential sequential => FuseSequential(sequential),
        Residual residual => new Residual(Fuse(residual.Body), residual.Shortcut is null ? null : Fuse(residual.Shortcut)),
        Linear linear => new FrozenLinear(linear),
        _ => module,
    };

    private static Sequential FuseSequential(Sequential sequential)
    {
        var result = new Sequential();
        for (int i = 0; i < sequential.Count; i++)
        {
            if (sequential[i] is Conv2d conv && i + 1 < sequential.Count && sequential[i + 1] is ReLU)
            {
                if (i + 2 < sequential.Count && sequential[i + 2] is MaxPool2d pool && ConvReLUMaxPool2d.Fusable(pool))
                {
                    result.Add(new ConvReLUMaxPool2d(conv, pool));
                    i += 2;
                    continue;
                }
                result.Add(new ConvReLU2d(conv));
                i++;
            }
            else if (sequential[i] is Residual block && i + 1 < sequential.Count && sequential[i + 1] is ReLU)
            {
                result.Add(new ResidualReLU((Residual)Fuse(block)));
                i++;
            }
            else
            {
                result.Add(Fuse(sequential[i]));
            }
        }
        return result;
    }
}
