namespace NormNet.Images;

/// <summary>Decodes image files one by one into one cache of planar bytes, checking that they share one size (or resizing
/// them), and keeping or skipping bad files as asked.</summary>
internal sealed class ImageLoader
{
    private readonly int? _channels;
    private readonly ImageSize? _resize;
    private readonly ImageSize? _required;
    private readonly string? _requiredWhy;
    private readonly bool _skipBad;
    private readonly long _maxPixels;
    private readonly List<byte[]> _images = [];
    private readonly List<int> _labels = [];
    private string? _firstPath;
    private ImageSize _firstSize;
    private bool _anyColour;
    private long _bytes;

    /// <summary>Prepares a loader.</summary>
    /// <param name="channels">1, 3, or null to choose: RGB if any image has colour, else grey.</param>
    /// <param name="resize">Resize every image to this size; null keeps the images' own size.</param>
    /// <param name="required">Without <paramref name="resize"/>: the size every image must have (null: the first image's).</param>
    /// <param name="requiredWhy">Says where <paramref name="required"/> comes from, e.g. "the training images' size".</param>
    /// <param name="skipBad">Skip unreadable files (reported in <see cref="Skipped"/>) instead of failing.</param>
    /// <param name="maxPixels">The most pixels an image may declare.</param>
    public ImageLoader(int? channels, ImageSize? resize, ImageSize? required, string? requiredWhy, bool skipBad, long maxPixels)
    {
        if (channels is not (null or 1 or 3))
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "Expected 1 (grey) or 3 (RGB) channels.");
        resize?.Check(nameof(resize));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPixels, 1);
        (_channels, _resize, _required, _requiredWhy, _skipBad, _maxPixels) = (channels, resize, required, requiredWhy, skipBad, maxPixels);
    }

    /// <summary>The files skipped as bad, with the error each would have raised.</summary>
    public List<SkippedImage> Skipped { get; } = [];

    /// <summary>The number of images kept so far.</summary>
    public int Count => _images.Count;

    /// <summary>Decodes <paramref name="path"/> as a sample of class <paramref name="label"/>; false if it was skipped.</summary>
    /// <exception cref="InvalidDataException">The file is bad (and bad files are not skipped), or its size differs from the others'.</exception>
    public bool Add(string path, int label)
    {
        try
        {
            using var codec = ImageDecoder.Open(path, _maxPixels);
            var own = new ImageSize(codec.Info.Height, codec.Info.Width);
            var size = _resize ?? CheckSize(path, own);
            int channels = _channels ?? 3;
            long bytes = (long)channels * size.Height * size.Width;
            if (_bytes + bytes > Array.MaxLength)
                throw new InvalidDataException($"{path}: the images up to this one take more than {Array.MaxLength:N0} bytes, the most one array holds: expected fewer or smaller images.");
            var planes = ImageDecoder.Decode(codec, path, channels, size, out bool colour);
            _anyColour |= colour;
            _bytes += bytes;
            if (_firstPath is null) (_firstPath, _firstSize) = (path, size);
            _images.Add(planes);
            _labels.Add(label);
            return true;
        }
        catch (InvalidDataException e) when (_skipBad && !e.Data.Contains(SizeError))
        {
            Skipped.Add(new SkippedImage(path, e.Message));
            return false;
        }
    }

    /// <summary>All images as one N x C x H x W array, with their labels, channel count and size.</summary>
    /// <exception cref="InvalidOperationException">No image was kept.</exception>
    public (byte[] Pixels, int[] Labels, int Channels, ImageSize Size) Finish()
    {
        if (_images.Count == 0) throw new InvalidOperationException("No images were loaded.");
        int channels = _channels ?? (_anyColour ? 3 : 1);
        var size = _resize ?? _firstSize;
        int plane = size.Height * size.Width;
        var pixels = new byte[(long)_images.Count * channels * plane];
        for (int i = 0; i < _images.Count; i++)
        {
            // Auto-chosen grey keeps the R plane: every pixel has R = G = B, whose luma is that same value.
            _images[i].AsSpan(0, channels * plane).CopyTo(pixels.AsSpan(i * channels * plane));
        }
        return (pixels, _labels.ToArray(), channels, size);
    }

    /// <summary>Marks a size mismatch, which is the user's layout, never a bad file to skip.</summary>
    private const string SizeError = "NormNet.Images.SizeError";

    private ImageSize CheckSize(string path, ImageSize own)
    {
        if (_required is { } required)
        {
            if (own != required)
                throw SizeMismatch($"{path}: the image is {own} (height x width): expected {required}, {_requiredWhy}");
            return own;
        }
        if (_firstPath is not null && own != _firstSize)
            throw SizeMismatch($"{path}: the image is {own} (height x width) but {_firstPath} is {_firstSize}: expected images of one size");
        return own;
    }

    private static InvalidDataException SizeMismatch(string message)
    {
        var e = new InvalidDataException(message + "; give an image size (--image-size HxW, ImageFolderOptions.Size) to resize them.");
        e.Data[SizeError] = true;
        return e;
    }
}
