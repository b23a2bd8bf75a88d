namespace NormNet.Data;

/// <summary>The contents of an IDX file of unsigned bytes (the MNIST format): its dimensions and its data.</summary>
/// <remarks>Read one with <see cref="IdxReader"/>. The data is row-major, the last dimension varying fastest, so an
/// image file of dimensions (N, H, W) holds image <c>i</c> at bytes <c>[i * H * W, (i + 1) * H * W)</c>.</remarks>
public sealed class IdxFile
{
    private readonly int[] _dims;

    internal IdxFile(string name, int[] dims, byte[] data)
    {
        Name = name;
        _dims = dims;
        Bytes = data;
    }

    /// <summary>The file's path or resource name, as used in error messages.</summary>
    public string Name { get; }

    /// <summary>The dimensions, e.g. (60000, 28, 28) for MNIST's training images.</summary>
    public ReadOnlySpan<int> Dims => _dims;

    /// <summary>The number of dimensions.</summary>
    public int Rank => _dims.Length;

    /// <summary>The data, the product of <see cref="Dims"/> bytes.</summary>
    public ReadOnlySpan<byte> Data => Bytes;

    /// <summary>The data array itself, handed on to an <see cref="ImageSet"/> without copying.</summary>
    internal byte[] Bytes { get; }

    /// <summary>The dimensions written as in PyTorch, e.g. <c>(60000, 28, 28)</c>.</summary>
    public string DimsString => Tensor.Format(_dims);

    /// <inheritdoc />
    public override string ToString() => $"{Name} {DimsString}";
}
