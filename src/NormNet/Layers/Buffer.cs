namespace NormNet.Layers;

/// <summary>The element type of a state entry (PyTorch's float32 and int64).</summary>
public enum DType
{
    /// <summary>32-bit float.</summary>
    Float32,
    /// <summary>64-bit signed integer.</summary>
    Int64,
}

/// <summary>Non-trainable module state that belongs in a checkpoint, as PyTorch's registered buffers
/// (e.g. <c>running_mean</c>, <c>num_batches_tracked</c>).</summary>
public abstract class Buffer
{
    /// <summary>The element type.</summary>
    public abstract DType DType { get; }

    /// <summary>The dimensions (empty for a scalar).</summary>
    public abstract int[] Shape { get; }
}

/// <summary>A float32 tensor buffer.</summary>
public sealed class TensorBuffer(Tensor value) : Buffer
{
    /// <summary>The buffer's tensor.</summary>
    public Tensor Value { get; } = value;

    /// <inheritdoc />
    public override DType DType => DType.Float32;

    /// <inheritdoc />
    public override int[] Shape => Value.Shape;
}

/// <summary>A 64-bit integer scalar buffer (shape <c>()</c>).</summary>
public sealed class Int64Buffer : Buffer
{
    /// <summary>The value.</summary>
    public long Value { get; set; }

    /// <inheritdoc />
    public override DType DType => DType.Int64;

    /// <inheritdoc />
    public override int[] Shape => [];
}
