namespace NormNet.Data;

/// <summary>One split of a labelled image data set: N grayscale images of H x W bytes and N labels below a class count.</summary>
/// <remarks>Pixels stay bytes (0-255) here, a quarter of the memory of floats; <see cref="DataLoader"/> scales
/// them to [0, 1] batch by batch. The arrays are used as given, not copied, and must not be changed afterwards.</remarks>
public sealed class ImageSet
{
    private readonly byte[] _images;
    private readonly byte[] _labels;

    /// <summary>Creates a split from pixel and label arrays, checking their sizes and the label range.</summary>
    /// <param name="images">N * height * width pixels, image after image, each row-major.</param>
    /// <param name="labels">N labels, each below <paramref name="classCount"/>.</param>
    /// <param name="height">H, the image height.</param>
    /// <param name="width">W, the image width.</param>
    /// <param name="classCount">The number of classes; labels must be below it.</param>
    /// <param name="name">Names the split in error messages, e.g. the label file.</param>
    /// <exception cref="ArgumentException">The sizes disagree or a label is out of range.</exception>
    public ImageSet(byte[] images, byte[] labels, int height, int width, int classCount = 10, string name = "image set")
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        if (classCount is < 1 or > 256)
            throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "The class count must be in [1, 256] for byte labels.");
        if (labels.Length == 0)
            throw new ArgumentException($"{name}: expected at least 1 sample, found 0.", nameof(labels));
        if ((long)labels.Length * height * width != images.Length)
            throw new ArgumentException(
                $"{name}: expected {labels.Length} images of {height}x{width} = {(long)labels.Length * height * width} pixels, found {images.Length}.",
                nameof(images));
        int bad = FirstLabelAtOrAbove(labels, classCount);
        if (bad >= 0)
            throw new ArgumentException(
                $"{name}: label {labels[bad]} at index {bad}: expected a value below {classCount} (the class count).", nameof(labels));
        _images = images;
        _labels = labels;
        Height = height;
        Width = width;
        ClassCount = classCount;
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
        int bad = FirstLabelAtOrAbove(labels.Bytes, classCount);
        if (bad >= 0)
            throw new InvalidDataException(
                $"{labels.Name}: label {labels.Bytes[bad]} at index {bad}: expected a value below {classCount} (the class count).");
        return new ImageSet(images.Bytes, labels.Bytes, images.Dims[1], images.Dims[2], classCount, labels.Name);
    }

    /// <summary>N, the number of images.</summary>
    public int Count => _labels.Length;

    /// <summary>H, the image height.</summary>
    public int Height { get; }

    /// <summary>W, the image width.</summary>
    public int Width { get; }

    /// <summary>H * W, the number of pixels (features) per image.</summary>
    public int PixelsPerImage => Height * Width;

    /// <summary>The number of classes; every label is below it.</summary>
    public int ClassCount { get; }

    /// <summary>All pixels, N * H * W bytes.</summary>
    public ReadOnlySpan<byte> Images => _images;

    /// <summary>All labels, N bytes.</summary>
    public ReadOnlySpan<byte> Labels => _labels;

    /// <summary>The H * W pixels of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Image(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Expected an image index in [0, {Count}).");
        return _images.AsSpan(index * PixelsPerImage, PixelsPerImage);
    }

    /// <summary>How many images each class has (length <see cref="ClassCount"/>).</summary>
    public int[] ClassCounts()
    {
        var counts = new int[ClassCount];
        foreach (byte label in _labels) counts[label]++;
        return counts;
    }

    private static int FirstLabelAtOrAbove(ReadOnlySpan<byte> labels, int classCount)
    {
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classCount) return i;
        return -1;
    }
}
