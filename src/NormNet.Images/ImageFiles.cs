namespace NormNet.Images;

/// <summary>Loads a list of image files for prediction, decoded as <see cref="ImageFolder"/> decodes them.</summary>
public static class ImageFiles
{
    /// <summary>Decodes <paramref name="paths"/>, in order, into <paramref name="channels"/> planes of one size.</summary>
    /// <param name="paths">The image files (any of <see cref="ImageFolder.Extensions"/>; the content decides the format).</param>
    /// <param name="channels">1 (grey, ITU-R 601-2 luma) or 3 (RGB): the model's input channels.</param>
    /// <param name="size">Resize every image to this size (the model's input size); null requires all to have one size.</param>
    /// <param name="maxPixelsPerImage">The most pixels an image may declare before it is decoded.</param>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is not a readable image, or (no <paramref name="size"/>) the sizes differ;
    /// the message names the file.</exception>
    public static ImageFileSet Load(IReadOnlyList<string> paths, int channels, ImageSize? size, long maxPixelsPerImage = 64L << 20)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count == 0) throw new ArgumentException("Expected at least one image file.", nameof(paths));
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Expected 1 (grey) or 3 (RGB) channels.");
        var loader = new ImageLoader(channels, size, null, null, skipBad: false, maxPixelsPerImage);
        foreach (var path in paths)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: image file not found.", path);
            loader.Add(path, 0);
        }
        var (pixels, _, c, s) = loader.Finish();
        return new ImageFileSet(paths.ToArray(), pixels, c, s);
    }
}
