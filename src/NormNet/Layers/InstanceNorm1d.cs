using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>Instance normalization over (N, C, L) or unbatched (C, L) input, as <c>torch.nn.InstanceNorm1d</c>.</summary>
public sealed class InstanceNorm1d(int numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = false, bool trackRunningStats = false)
    : InstanceNormBase(numFeatures, eps, momentum, affine, trackRunningStats)
{
    /// <inheritdoc />
    protected override BatchNormShape ViewOf(Tensor input) => CheckInput(input, 3, "C, L");
}
