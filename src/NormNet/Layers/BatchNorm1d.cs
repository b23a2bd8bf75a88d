using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>Batch normalization over (N, C) or (N, C, L) input, as <c>torch.nn.BatchNorm1d</c>.</summary>
public sealed class BatchNorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true,
    int? virtualBatchSize = null)
    : BatchNormBase(numFeatures, eps, momentum, affine, trackRunningStats, virtualBatchSize)
{
    /// <inheritdoc />
    protected override BatchNormShape ViewOf(Tensor input)
    {
        CheckInput(input, "2D (N, C) or 3D (N, C, L)", input.Rank is 2 or 3, 1);
        return new BatchNormShape(input.Dim(0), NumFeatures, input.Rank == 3 ? input.Dim(2) : 1);
    }
}
