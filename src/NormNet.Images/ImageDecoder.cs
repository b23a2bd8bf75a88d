using SkiaSharp;

namespace NormNet.Images;

/// <summary>Decodes one image file with SkiaSharp's <see cref="SKCodec"/> into planar bytes (C x H x W), resized if asked;
/// every failure is an <see cref="InvalidDataException"/> naming the file.</summary>
/// <remarks>
/// <para>Pixels are decoded as unpremultiplied RGBA and the alpha channel dropped (as PIL's <c>convert("RGB")</c>); a GIF
/// or animated WebP gives its first frame; EXIF orientation is not applied (as PIL without <c>exif_transpose</c>).</para>
/// <para>Grey is ITU-R 601-2 luma in PIL's fixed point: <c>L = (19595 R + 38470 G + 7471 B + 32768) &gt;&gt; 16</c>, so a grey
/// pixel (R = G = B) keeps its value and pure red gives 76.</para>
/// </remarks>
internal static class ImageDecoder
{
    /// <summary>The file size above which a file is refused unread (256 MiB).</summary>
    public const long MaxFileBytes = 256L << 20;

    /// <summary>Reads a file's declared width and height without decoding its pixels.</summary>
    /// <exception cref="InvalidDataException">The file is not an image Skia reads, or it declares an empty or oversized image.</exception>
    public static SKCodec Open(string path, long maxPixels)
    {
        var length = new FileInfo(path).Length;
        if (length > MaxFileBytes)
            throw new InvalidDataException($"{path}: the file has {length:N0} bytes: expected an image file of at most {MaxFileBytes:N0} bytes.");
        if (length == 0) throw new InvalidDataException($"{path}: the file is empty: expected a PNG, JPEG, BMP, GIF or WebP image.");
        var codec = SKCodec.Create(path, out var result);
        if (codec is null)
            throw new InvalidDataException($"{path}: not a readable image ({Describe(result)}): expected a PNG, JPEG, BMP, GIF or WebP file.");
        var info = codec.Info;
        if (info.Width < 1 || info.Height < 1 || (long)info.Width * info.Height > maxPixels)
        {
            codec.Dispose();
            throw new InvalidDataException(
                $"{path}: the image declares {info.Height}x{info.Width} pixels (height x width): expected at most {maxPixels:N0} pixels.");
        }
        return codec;
    }

    /// <summary>Decodes the image of <paramref name="codec"/> at <paramref name="size"/> into <paramref name="channels"/> planes.</summary>
    /// <param name="codec">From <see cref="Open"/>; not disposed here.</param>
    /// <param name="path">The file, for messages.</param>
    /// <param name="channels">1 (grey, luma) or 3 (RGB).</param>
    /// <param name="size">The output size (the image's own size for no resizing).</param>
    /// <param name="isColour">Whether any pixel has R, G and B not all equal (before any resizing).</param>
    /// <exception cref="InvalidDataException">The pixel data is truncated or corrupt.</exception>
    public static byte[] Decode(SKCodec codec, string path, int channels, ImageSize size, out bool isColour)
    {
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var full = new SKBitmap(info);
        var result = codec.GetPixels(info, full.GetPixels());
        if (result != SKCodecResult.Success)
            throw new InvalidDataException($"{path}: the image data is {Describe(result)}: expected a complete image of {info.Height}x{info.Width} pixels.");
        isColour = HasColour(full.GetPixelSpan());
        if (size.Height == info.Height && size.Width == info.Width) return Planes(full.GetPixelSpan(), channels, info.Width * info.Height);
        var target = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var resized = full.Resize(target, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new InvalidDataException($"{path}: the image could not be resized to {size}.");
        return Planes(resized.GetPixelSpan(), channels, size.Width * size.Height);
    }

    /// <summary>RGBA pixels (4 bytes each) to <paramref name="channels"/> planes of <paramref name="pixels"/> bytes.</summary>
    private static byte[] Planes(ReadOnlySpan<byte> rgba, int channels, int pixels)
    {
        var planes = new byte[channels * pixels];
        if (channels == 3)
        {
            for (int p = 0; p < pixels; p++)
            {
                planes[p] = rgba[4 * p];
                planes[pixels + p] = rgba[4 * p + 1];
                planes[2 * pixels + p] = rgba[4 * p + 2];
            }
        }
        else
        {
            for (int p = 0; p < pixels; p++) planes[p] = Luma(rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2]);
        }
        return planes;
    }

    /// <summary>ITU-R 601-2 luma as PIL computes it: <c>(19595 R + 38470 G + 7471 B + 32768) &gt;&gt; 16</c>.</summary>
    public static byte Luma(byte r, byte g, byte b) => (byte)((19595 * r + 38470 * g + 7471 * b + 32768) >> 16);

    private static bool HasColour(ReadOnlySpan<byte> rgba)
    {
        for (int i = 0; i < rgba.Length; i += 4)
        {
            if (rgba[i] != rgba[i + 1] || rgba[i + 1] != rgba[i + 2]) return true;
        }
        return false;
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.IncompleteInput => "truncated (IncompleteInput)",
        SKCodecResult.ErrorInInput => "corrupt (ErrorInInput)",
        SKCodecResult.Unimplemented => "an unknown format (Unimplemented)",
        SKCodecResult.InvalidInput => "invalid (InvalidInput)",
        _ => result.ToString(),
    };
}
