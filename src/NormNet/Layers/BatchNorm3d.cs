using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>Batch normalization over (N, C, D, H, W) volumes, as <c>torch.nn.BatchNorm3d</c>.</summary>
public sealed class BatchNorm3d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true,
    int? virtualBatchSize = null)
    : BatchNormBase(numFeatures, eps, momentum, affine, trackRunningStats, virtualBatchSize)
{
    /// <inheritdoc />
    protected override BatchNormShape ViewOf(Tensor input)
    {
        CheckInput(input, "5D (N, C, D, H, W)", input.Rank == 5, 1);
        return new BatchNormShape(input.Dim(0), NumFeatures, input.Dim(2) * input.Dim(3) * input.Dim(4));
    }
}
