namespace NormNet;

/// <summary>How a 4-D image batch is laid out in memory.</summary>
public enum MemoryFormat
{
    /// <summary>(N, C, H, W), PyTorch's default: each channel's H*W plane is contiguous.</summary>
    ChannelsFirst,
    /// <summary>(N, H, W, C): the channels of one pixel are contiguous (PyTorch's <c>channels_last</c>,
    /// TensorFlow's NHWC). The tensor's shape is then (N, H, W, C).</summary>
    ChannelsLast,
}
