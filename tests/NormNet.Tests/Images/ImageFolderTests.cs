using System.Buffers.Binary;
using NormNet.Data;
using NormNet.Images;
using NormNet.Tests.Data;
using SkiaSharp;

namespace NormNet.Tests.Images;

/// <summary>The image-folder and image-file readers: layout, class order, grey/RGB conversion, resizing, and a message
/// naming the file or folder for every bad input (or a skip with its reason).</summary>
public sealed class ImageFolderTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly SKColor Red = new(255, 0, 0);
    private static readonly SKColor Blue = new(0, 0, 255);

    /// <summary>An image of height x width pixels, filled by <paramref name="pixel"/>(row, column).</summary>
    private static byte[] Encode(int height, int width, Func<int, int, SKColor> pixel, SKEncodedImageFormat format = SKEncodedImageFormat.Png,
        bool grey = false)
    {
        var info = new SKImageInfo(width, height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, grey ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) bitmap.SetPixel(x, y, pixel(y, x));
        using var data = bitmap.Encode(format, 95);
        return data.ToArray();
    }

    private static byte[] Solid(int height, int width, SKColor colour, SKEncodedImageFormat format = SKEncodedImageFormat.Png) =>
        Encode(height, width, (_, _) => colour, format);

    private string Put(string relative, byte[] bytes)
    {
        var path = Path.Combine(_dir.Path, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Root(string name = "root") => Path.Combine(_dir.Path, name);

    private static string Bad(Func<object> read, string prefix)
    {
        var e = Assert.Throws<InvalidDataException>(read);
        Assert.StartsWith(prefix, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void ClassesAreSortedFolderNamesAndRedIsTheRPlane()
    {
        Put("root/b/1.png", Solid(3, 4, Red));
        Put("root/a/2.png", Solid(3, 4, Blue));
        Put("root/a/sub/1.PNG", Solid(3, 4, Red));
        Put("root/B/1.png", Solid(3, 4, Blue));
        var (set, skipped) = ImageFolder.Read(Root());
        Assert.Empty(skipped);
        Assert.Equal(["B", "a", "b"], set.ClassNames);
        Assert.Equal([0, 1, 1, 2], set.Labels.ToArray()); // a/2.png before a/sub/1.PNG (ordinal paths)
        Assert.Equal([3, 3, 4], set.SampleShape.ToArray());
        Assert.Equal(Root(), set.Name);
        var red = set.Image(3).ToArray();
        Assert.All(red[..12], v => Assert.Equal(255, v));
        Assert.All(red[12..], v => Assert.Equal(0, v));
        var blue = set.Image(1).ToArray();
        Assert.All(blue[..24], v => Assert.Equal(0, v));
        Assert.All(blue[24..], v => Assert.Equal(255, v));
        var features = new float[set.FeatureCount];
        set.CopyFeatures(3, features);
        Assert.Equal(1f, features[0]);
    }

    [Fact]
    public void GreyImagesGiveOneChannelByDefaultKeepingTheirValues()
    {
        Put("root/x/1.png", Encode(2, 3, (y, x) => new SKColor((byte)(10 * x + 50 * y), (byte)(10 * x + 50 * y), (byte)(10 * x + 50 * y)), grey: true));
        Put("root/y/1.png", Encode(2, 3, (y, x) => new SKColor((byte)(7 * x), (byte)(7 * x), (byte)(7 * x)))); // RGB file, grey pixels
        var set = ImageFolder.Read(Root()).Images;
        Assert.Equal(1, set.Channels);
        Assert.Equal([0, 10, 20, 50, 60, 70], set.Image(0).ToArray());
        Assert.Equal([0, 7, 14, 0, 7, 14], set.Image(1).ToArray());
    }

    [Fact]
    public void OneColourImageMakesTheDefaultRgb()
    {
        Put("root/x/1.png", Encode(1, 2, (_, _) => new SKColor(9, 9, 9), grey: true));
        Put("root/y/1.png", Encode(1, 2, (_, x) => x == 0 ? new SKColor(9, 9, 9) : new SKColor(1, 2, 3)));
        var set = ImageFolder.Read(Root()).Images;
        Assert.Equal(3, set.Channels);
        Assert.Equal([9, 9, 9, 9, 9, 9], set.Image(0).ToArray());
        Assert.Equal([9, 1, 9, 2, 9, 3], set.Image(1).ToArray());
    }

    [Fact]
    public void ExplicitGreyIsPilLuma()
    {
        Put("root/x/1.png", Encode(1, 3, (_, x) => x switch { 0 => Red, 1 => new SKColor(10, 200, 30), _ => new SKColor(0, 255, 0) }));
        Put("root/y/1.png", Solid(1, 3, Blue));
        var set = ImageFolder.Read(Root(), new ImageFolderOptions { Channels = 1 }).Images;
        Assert.Equal(1, set.Channels);
        // (19595 R + 38470 G + 7471 B + 32768) >> 16
        Assert.Equal([76, (19595 * 10 + 38470 * 200 + 7471 * 30 + 32768) >> 16, 150], set.Image(0).ToArray().Select(b => (int)b));
        Assert.Equal([29, 29, 29], set.Image(1).ToArray());
    }

    [Fact]
    public void ExplicitRgbOfGreyRepeatsThePlane()
    {
        Put("root/x/1.png", Encode(1, 2, (_, x) => new SKColor((byte)(100 + x), 0, 0), grey: false));
        Put("root/y/1.png", Encode(1, 2, (_, x) => new SKColor((byte)(40 * x), (byte)(40 * x), (byte)(40 * x)), grey: true));
        var set = ImageFolder.Read(Root(), new ImageFolderOptions { Channels = 3 }).Images;
        Assert.Equal([0, 40, 0, 40, 0, 40], set.Image(1).ToArray());
    }

    [Fact]
    public void JpegDecodesCloseToItsColour()
    {
        Put("root/x/1.jpg", Solid(8, 8, Red, SKEncodedImageFormat.Jpeg));
        Put("root/y/1.jpeg", Solid(8, 8, Blue, SKEncodedImageFormat.Jpeg));
        var set = ImageFolder.Read(Root()).Images;
        Assert.Equal(3, set.Channels);
        var red = set.Image(0).ToArray();
        Assert.All(red[..64], v => Assert.True(v >= 240, $"R {v}"));
        Assert.All(red[64..], v => Assert.True(v <= 15, $"G/B {v}"));
    }

    [Fact]
    public void DifferentSizesNameTwoFilesAndSuggestImageSize()
    {
        var first = Put("root/a/1.png", Solid(4, 4, Red));
        var other = Put("root/b/1.png", Solid(5, 3, Red));
        var message = Bad(() => ImageFolder.Read(Root()), other + ": ");
        Assert.Equal($"{other}: the image is 5x3 (height x width) but {first} is 4x4: expected images of one size; give an image size (--image-size HxW, ImageFolderOptions.Size) to resize them.", message);
    }

    [Fact]
    public void ResizesToTheGivenSize()
    {
        Put("root/a/1.png", Solid(4, 4, Red));
        Put("root/b/1.png", Solid(5, 3, Blue));
        Put("root/b/2.png", Encode(4, 4, (_, x) => x < 2 ? SKColors.Black : SKColors.White));
        var set = ImageFolder.Read(Root(), new ImageFolderOptions { Size = new ImageSize(2, 2) }).Images;
        Assert.Equal([3, 2, 2], set.SampleShape.ToArray());
        Assert.Equal([255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0], set.Image(0).ToArray());
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255], set.Image(1).ToArray());
        var halves = set.Image(2).ToArray();
        Assert.True(halves[0] <= 5 && halves[2] <= 5 && halves[1] >= 250 && halves[3] >= 250, string.Join(",", halves));
    }

    [Fact]
    public void CorruptTruncatedEmptyAndCraftedFilesNameTheFile()
    {
        var valid = Solid(16, 16, Red);
        Put("root/a/ok.png", valid);
        Put("root/b/ok.png", valid);
        var noise = new byte[300];
        new Random(7).NextBytes(noise);
        var files = new[]
        {
            Put("bad/random.png", noise),
            Put("bad/truncated.png", valid[..(valid.Length * 2 / 3)]),
            Put("bad/empty.png", []),
            Put("bad/huge.png", WithDimensions(valid, 100_000, 100_000)),
        };
        foreach (var bad in files)
        {
            Put("root/b/zz.png", File.ReadAllBytes(bad));
            var message = Bad(() => ImageFolder.Read(Root()), Path.Combine(Root(), "b", "zz.png") + ": ");
            if (bad.EndsWith("huge.png", StringComparison.Ordinal)) Assert.Contains("declares 100000x100000 pixels", message);
            Bad(() => ImageFiles.Load([bad], 3, null), bad + ": ");
        }
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png, 0.5)]
    [InlineData(SKEncodedImageFormat.Png, 0.8)]
    [InlineData(SKEncodedImageFormat.Png, 0.95)]
    [InlineData(SKEncodedImageFormat.Jpeg, 0.5)]
    [InlineData(SKEncodedImageFormat.Jpeg, 0.9)]
    public void FilesCutInsideTheirPixelDataAreErrors(SKEncodedImageFormat format, double kept)
    {
        // Noise does not compress, so the pixel data fills most of the file and any cut lands inside it.
        var random = new Random(3);
        var whole = Encode(32, 32, (_, _) => new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)), format);
        var path = Put($"cut/x.{format}", whole[..(int)(whole.Length * kept)]);
        var message = Bad(() => ImageFiles.Load([path], 3, null), path + ": ");
        Assert.Contains("truncated", message);
        Assert.Equal(32 * 32 * 3, ImageFiles.Load([Put($"whole/x.{format}", whole)], 3, null).PixelsPerImage);
    }

    [Fact]
    public void SkipBadFilesReportsThemWithReasons()
    {
        Put("root/a/1.png", Solid(2, 2, Red));
        var noise = Put("root/a/2.png", [1, 2, 3, 4, 5]);
        Put("root/b/1.png", Solid(2, 2, Blue));
        var (set, skipped) = ImageFolder.Read(Root(), new ImageFolderOptions { SkipBadFiles = true });
        Assert.Equal(2, set.Count);
        var skip = Assert.Single(skipped);
        Assert.Equal(noise, skip.Path);
        Assert.StartsWith(noise + ": not a readable image", skip.Reason);

        // Skipping never hides a size mismatch, and a class whose every file is bad is still an error.
        Put("root/b/2.png", Solid(3, 3, Blue));
        Assert.Contains("expected images of one size", Bad(() => ImageFolder.Read(Root(), new ImageFolderOptions { SkipBadFiles = true }), ""));
        File.Delete(Path.Combine(Root(), "b", "2.png"));
        File.Delete(Path.Combine(Root(), "a", "1.png"));
        Assert.Contains("all 1 images of the class were skipped",
            Bad(() => ImageFolder.Read(Root(), new ImageFolderOptions { SkipBadFiles = true }), Path.Combine(Root(), "a") + ": "));
    }

    [Fact]
    public void LayoutErrorsNameTheFolder()
    {
        Directory.CreateDirectory(Root("none"));
        Assert.Contains("no class folders", Bad(() => ImageFolder.Read(Root("none")), Root("none") + ": "));
        Put("one/only/1.png", Solid(2, 2, Red));
        Assert.Contains("training needs at least 2 classes", Bad(() => ImageFolder.Read(Root("one")), Root("one") + ": "));
        Put("root/a/1.png", Solid(2, 2, Red));
        Put("root/b/notes.txt", [65]);
        Assert.Contains("the class folder has no images", Bad(() => ImageFolder.Read(Root()), Path.Combine(Root(), "b") + ": "));
        Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Read(Root("absent")));
    }

    [Fact]
    public void OtherExtensionsRootFilesAndHiddenFoldersAreIgnored()
    {
        Put("root/a/1.png", Solid(2, 2, Red));
        Put("root/a/readme.txt", [65]);
        Put("root/a/.hidden.png", [1, 2, 3]);
        Put("root/b/1.webp", Solid(2, 2, Blue, SKEncodedImageFormat.Webp));
        Put("root/top.png", [1, 2, 3]);
        Put("root/.ipynb_checkpoints/x.png", [1, 2, 3]);
        var set = ImageFolder.Read(Root()).Images;
        Assert.Equal(["a", "b"], set.ClassNames);
        Assert.Equal(2, set.Count);
        Assert.True(ImageFolder.IsImageFile("x.JPEG"));
        Assert.False(ImageFolder.IsImageFile("x.tiff"));
    }

    [Fact]
    public void TestFolderMapsClassesLikeTraining()
    {
        Put("root/cat/1.png", Solid(2, 2, Red));
        Put("root/dog/1.png", Solid(2, 2, Blue));
        Put("root/eel/1.png", Solid(2, 2, Red));
        var train = ImageFolder.Read(Root()).Images;
        Put("test/eel/1.png", Solid(2, 2, Red));
        Put("test/eel/2.png", Solid(2, 2, Red));
        var test = ImageFolder.ReadLike(Root("test"), train).Images;
        Assert.Equal(train.ClassNames, test.ClassNames);
        Assert.Equal([2, 2], test.Labels.ToArray());
        Assert.Equal(3, test.Channels);

        Put("test/fox/1.png", Solid(2, 2, Red));
        var fox = Path.Combine(Root("test"), "fox");
        Assert.Equal($"{fox}: class 'fox' is not one of the 3 training classes ('cat', 'dog', 'eel').", Bad(() => ImageFolder.ReadLike(Root("test"), train), fox + ": "));
    }

    [Fact]
    public void TestFolderTakesTheTrainingSizeAndChannels()
    {
        Put("root/a/1.png", Encode(2, 2, (_, _) => new SKColor(5, 5, 5), grey: true));
        Put("root/b/1.png", Encode(2, 2, (_, _) => new SKColor(6, 6, 6), grey: true));
        var train = ImageFolder.Read(Root()).Images;
        Assert.Equal(1, train.Channels);
        var big = Put("test/a/1.png", Solid(4, 4, Red));
        Assert.Contains("expected 2x2, the size of the training images", Bad(() => ImageFolder.ReadLike(Root("test"), train), big + ": "));
        var test = ImageFolder.ReadLike(Root("test"), train, new ImageFolderOptions { Size = new ImageSize(2, 2) }).Images;
        Assert.Equal([1, 2, 2], test.SampleShape.ToArray());
        Assert.Equal([76, 76, 76, 76], test.Image(0).ToArray());
        Assert.Throws<ArgumentException>(() => ImageFolder.ReadLike(Root("test"), train, new ImageFolderOptions { Size = new ImageSize(3, 3) }));
        Assert.Throws<ArgumentException>(() => ImageFolder.ReadLike(Root("test"), train, new ImageFolderOptions { Channels = 3 }));
    }

    [Fact]
    public void ImageFilesLoadsAListInOrder()
    {
        var a = Put("p/a.png", Solid(3, 3, Red));
        var b = Put("p/b.jpg", Solid(6, 4, Blue, SKEncodedImageFormat.Jpeg));
        var images = ImageFiles.Load([b, a], 1, new ImageSize(2, 2));
        Assert.Equal([b, a], images.Paths);
        Assert.Equal((2, 1, 2, 2), (images.Count, images.Channels, images.Height, images.Width));
        Assert.Equal([76, 76, 76, 76], images.Image(1).ToArray());
        var features = new float[4];
        images.CopyFeatures(1, features);
        Assert.Equal(76 / 255f, features[0]);
        Assert.Contains("expected images of one size", Bad(() => ImageFiles.Load([a, b], 3, null), b + ": "));
        Assert.Throws<FileNotFoundException>(() => ImageFiles.Load([Path.Combine(_dir.Path, "nope.png")], 3, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageFiles.Load([a], 2, null));
    }

    [Fact]
    public void ImageSizeParses()
    {
        Assert.Equal(new ImageSize(32, 48), ImageSize.Parse("32x48"));
        Assert.Equal(new ImageSize(28, 28), ImageSize.Parse("28"));
        Assert.Equal("32x48", new ImageSize(32, 48).ToString());
        Assert.Throws<FormatException>(() => ImageSize.Parse("32x"));
        Assert.Throws<FormatException>(() => ImageSize.Parse("0x4"));
        Assert.Throws<FormatException>(() => ImageSize.Parse("-3"));
    }

    /// <summary>A PNG whose IHDR chunk declares other dimensions, with its CRC fixed so that only the size is wrong.</summary>
    private static byte[] WithDimensions(byte[] png, int width, int height)
    {
        var bytes = (byte[])png.Clone();
        // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), ... 13 data bytes, then the CRC over type+data.
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(20), height);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(29), Crc32(bytes.AsSpan(12, 17)));
        return bytes;
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }
}
