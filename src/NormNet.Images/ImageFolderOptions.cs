namespace NormNet.Images;

/// <summary>How <see cref="ImageFolder"/> decodes a folder of images: channels, size, and what to do with bad files.</summary>
public sealed record ImageFolderOptions
{
    /// <summary>1 (grey), 3 (RGB), or null: RGB if any pixel of any image has R, G and B not all equal, else grey.</summary>
    public int? Channels { get; init; }

    /// <summary>Resize every image to this size (stretching, bilinear with mipmaps); null requires all images to have one size.</summary>
    public ImageSize? Size { get; init; }

    /// <summary>Skip unreadable, truncated or corrupt files and report them in <see cref="ImageFolderResult.Skipped"/>
    /// instead of failing; false (the default) fails on the first.</summary>
    public bool SkipBadFiles { get; init; }

    /// <summary>The most pixels (width x height) an image may declare before it is decoded (default 64 mega-pixels): a larger
    /// one, e.g. a crafted header, is a bad file rather than a huge allocation.</summary>
    public long MaxPixelsPerImage { get; init; } = 64L << 20;
}
