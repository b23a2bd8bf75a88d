namespace NormNet.Images;

/// <summary>Images decoded from a list of files, without labels (for prediction): N images of C x H x W bytes, planar.</summary>
public sealed class ImageFileSet
{
    private readonly byte[] _pixels;
    private readonly string[] _paths;

    internal ImageFileSet(string[] paths, byte[] pixels, int channels, ImageSize size)
    {
        _paths = paths;
        _pixels = pixels;
        Channels = channels;
        Height = size.Height;
        Width = size.Width;
    }

    /// <summary>The files, in the order of the images.</summary>
    public IReadOnlyList<string> Paths => _paths;

    /// <summary>N, the number of images.</summary>
    public int Count => _paths.Length;

    /// <summary>C: 1 grey or 3 RGB.</summary>
    public int Channels { get; }

    /// <summary>H, the image height.</summary>
    public int Height { get; }

    /// <summary>W, the image width.</summary>
    public int Width { get; }

    /// <summary>C * H * W, the bytes (features) per image.</summary>
    public int PixelsPerImage => Channels * Height * Width;

    /// <summary>All pixels, N * C * H * W bytes.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    /// <summary>The C * H * W bytes of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Image(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"Expected an image index in [0, {Count}).");
        return _pixels.AsSpan(index * PixelsPerImage, PixelsPerImage);
    }

    /// <summary>Writes image <paramref name="index"/> as floats in [0, 1] (<c>byte / 255f</c>, as <see cref="NormNet.Data.ImageSet"/>
    /// and torchvision's <c>ToTensor</c>) into <paramref name="destination"/>.</summary>
    public void CopyFeatures(int index, Span<float> destination)
    {
        var image = Image(index);
        if (destination.Length < image.Length)
            throw new ArgumentException($"Expected room for {image.Length} values, found {destination.Length}.", nameof(destination));
        for (int f = 0; f < image.Length; f++) destination[f] = image[f] / 255f;
    }
}
