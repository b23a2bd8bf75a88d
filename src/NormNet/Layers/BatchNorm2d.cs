using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>Batch normalization over 4-D image batches, as <c>torch.nn.BatchNorm2d</c>.</summary>
/// <remarks>Input is (N, C, H, W) by default; pass <see cref="MemoryFormat.ChannelsLast"/> for (N, H, W, C)
/// tensors, which use kernels vectorized across channels.</remarks>
public sealed class BatchNorm2d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true,
    MemoryFormat memoryFormat = MemoryFormat.ChannelsFirst, int? virtualBatchSize = null)
    : BatchNormBase(numFeatures, eps, momentum, affine, trackRunningStats, virtualBatchSize)
{
    /// <summary>The layout of the input: (N, C, H, W) or channels-last (N, H, W, C).</summary>
    public MemoryFormat MemoryFormat { get; } = memoryFormat;

    /// <inheritdoc />
    protected override BatchNormShape ViewOf(Tensor input)
    {
        bool last = MemoryFormat == MemoryFormat.ChannelsLast;
        CheckInput(input, last ? "4D channels-last (N, H, W, C)" : "4D (N, C, H, W)", input.Rank == 4, last ? 3 : 1);
        return last
            ? new BatchNormShape(input.Dim(0) * input.Dim(1) * input.Dim(2), NumFeatures, 1)
            : new BatchNormShape(input.Dim(0), NumFeatures, input.Dim(2) * input.Dim(3));
    }
}
