namespace NormNet.Data;

/// <summary>One split of an image data set: N images of C x H x W bytes (C = 1 grey or 3 RGB, planar) with class labels.</summary>
/// <remarks>Pixels stay bytes (0-255) here, a quarter of the memory of floats; <see cref="CopyFeatures"/> (and so the
/// <see cref="DataLoader"/>) scales them to [0, 1] as <c>byte / 255f</c>, torchvision's <c>ToTensor</c>. The arrays are used
/// as given, not copied, and must not be changed afterwards.</remarks>
public sealed class ImageSet : Dataset
{
    private readonly byte[] _images;

    /// <summary>Creates a split of grey images from pixel and label arrays, checking their sizes and the label range.</summary>
    /// <param name="images">N * height * width pixels, image after image, each row-major.</param>
    /// <param name="labels">N labels, each below <paramref name="classCount"/>.</param>
    /// <param name="height">H, the image height.</param>
    /// <param name="width">W, the image width.</param>
    /// <param name="classCount">The number of classes; labels must be below it.</param>
    /// <param name="name">Names the split in error messages, e.g. the label file.</param>
    /// <exception cref="ArgumentException">The sizes disagree or a label is out of range.</exception>
    public ImageSet(byte[] images, byte[] labels, int height, int width, int classCount = 10, string name = "image set")
        : this(images, ToInts(labels), 1, height, width, DigitNames(classCount), name)
    {
    }

    /// <summary>Creates a split of C-channel images (planar: each image is C planes of H x W) with named classes.</summary>
    /// <param name="images">N * C * H * W pixels, image after image.</param>
    /// <param name="labels">N class indices, each below the number of <paramref name="classNames"/>.</param>
    /// <param name="channels">C: 1 (grey) or 3 (RGB).</param>
    /// <param name="height">H, the image height.</param>
    /// <param name="width">W, the image width.</param>
    /// <param name="classNames">The class names, index by index.</param>
    /// <param name="name">Names the split in error messages.</param>
    /// <exception cref="ArgumentException">The sizes disagree or a label is out of range.</exception>
    public ImageSet(byte[] images, int[] labels, int channels, int height, int width, IReadOnlyList<string> classNames, string name = "image set")
        : base(labels?.Length ?? 0, [channels, height, width], labels, classNames, null, null, name)
    {
        ArgumentNullException.ThrowIfNull(images);
        if ((long)Count * FeatureCount != images.Length)
            throw new ArgumentException(
                $"{name}: expected {Count} images of {channels}x{height}x{width} = {(long)Count * FeatureCount} pixels, found {images.Length}.",
                nameof(images));
        _images = images;
    }

    /// <summary>Creates a split from an image file of dimensions (N, H, W) and a label file of dimensions (N).</summary>
    /// <exception cref="InvalidDataException">The ranks or counts disagree, or a label is out of range; the message names the file.</exception>
    public static ImageSet FromIdx(IdxFile images, IdxFile labels, int classCount = 10)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (images.Rank != 3)
            throw new InvalidDataException($"{images.Name}: expected image dimensions (N, H, W), found {images.DimsString}.");
        if (labels.Rank != 1)
            throw new InvalidDataException($"{labels.Name}: expected label dimensions (N,), found {labels.DimsString}.");
        if (labels.Dims[0] != images.Dims[0])
            throw new InvalidDataException(
                $"{labels.Name}: expected {images.Dims[0]} labels (the image count of {images.Name}), found {labels.Dims[0]}.");
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        int bad = Array.FindIndex(labels.Bytes, b => b >= classCount);
        if (bad >= 0)
            throw new InvalidDataException(
                $"{labels.Name}: label {labels.Bytes[bad]} at index {bad}: expected a value below {classCount} (the class count).");
        return new ImageSet(images.Bytes, labels.Bytes, images.Dims[1], images.Dims[2], classCount, labels.Name);
    }

    /// <summary>C, the number of channels (1 grey, 3 RGB).</summary>
    public int Channels => SampleShape[0];

    /// <summary>H, the image height.</summary>
    public int Height => SampleShape[1];

    /// <summary>W, the image width.</summary>
    public int Width => SampleShape[2];

    /// <summary>C * H * W, the number of pixels (features) per image.</summary>
    public int PixelsPerImage => FeatureCount;

    /// <summary>All pixels, N * C * H * W bytes.</summary>
    public ReadOnlySpan<byte> Images => _images;

    /// <summary>The C * H * W pixels of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Image(int index)
    {
        CheckIndex(index);
        return _images.AsSpan(index * PixelsPerImage, PixelsPerImage);
    }

    /// <inheritdoc />
    public override void CopyFeatures(int index, Span<float> destination)
    {
        var source = Image(index);
        PixelScale.Scale(source, destination[..source.Length]);
    }

    /// <inheritdoc />
    internal override void Prefetch(int index) => PrefetchLines(Image(index));

    /// <inheritdoc />
    public override ImageSet Subset(ReadOnlySpan<int> indices, string name)
    {
        var (labels, _) = TargetsOf(indices);
        var images = new byte[(long)indices.Length * PixelsPerImage];
        for (int k = 0; k < indices.Length; k++) Image(indices[k]).CopyTo(images.AsSpan(k * PixelsPerImage, PixelsPerImage));
        return new ImageSet(images, labels!, Channels, Height, Width, ClassNames, name);
    }

    private static int[] ToInts(byte[] labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        return Array.ConvertAll(labels, b => (int)b);
    }

    private static string[] DigitNames(int classCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        return Enumerable.Range(0, classCount).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }
}
