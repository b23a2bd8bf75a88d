using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>Instance normalization over (N, C, H, W) or unbatched (C, H, W) input, as <c>torch.nn.InstanceNorm2d</c>.</summary>
public sealed class InstanceNorm2d(int numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = false, bool trackRunningStats = false)
    : InstanceNormBase(numFeatures, eps, momentum, affine, trackRunningStats)
{
    /// <inheritdoc />
    protected override BatchNormShape ViewOf(Tensor input) => CheckInput(input, 4, "C, H, W");
}
