using NormNet.Data;
using NormNet.Tests.Kernels;

namespace NormNet.Tests.Data;

/// <summary>Pixel scaling of whole rows gives torchvision's byte / 255f, the bits of the per-value table, for every byte
/// value at every vector width and every tail length; a destination too short is refused; and an image set's rows are
/// those values.</summary>
public class PixelScaleTests
{
    public static IEnumerable<object[]> Widths() => KernelWidths.Supported();

    [Theory, MemberData(nameof(Widths))]
    public void Scale_GivesTheTablesBits_ForEveryByteAndTailLength(Width width)
    {
        // every byte value, in an order no vector of them repeats
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)(i * 167 + 13)).ToArray();
        Assert.Equal(256, bytes.Distinct().Count());
        for (int n = 0; n <= 256; n++)
        {
            var actual = new float[n + 1];
            actual[n] = -1f; // past the row: untouched
            PixelScale.Scale(bytes.AsSpan(0, n), actual, width.ToSimd());
            for (int i = 0; i < n; i++)
                Assert.True(BitConverter.SingleToInt32Bits(PixelScale.Table[bytes[i]]) == BitConverter.SingleToInt32Bits(actual[i]),
                    $"n {n}, pixel {i} ({bytes[i]}): {actual[i]} instead of {PixelScale.Table[bytes[i]]}");
            Assert.Equal(-1f, actual[n]);
        }
        Assert.Equal(1f, PixelScale.Table[255]);
        Assert.Equal(0.2f, PixelScale.Table[51]);
    }

    [Fact]
    public void Scale_RefusesAShortDestination()
    {
        var ex = Assert.Throws<ArgumentException>(() => PixelScale.Scale(new byte[20], new float[19]));
        Assert.Contains("20 pixels into 19 floats", ex.Message);
    }

    [Fact]
    public void ImageSetRows_AreTheScaledPixels()
    {
        var images = Enumerable.Range(0, 2 * 5 * 7).Select(i => (byte)(i * 37)).ToArray();
        var set = new ImageSet(images, [1, 2], 5, 7);
        var row = new float[35];
        set.CopyFeatures(1, row);
        Assert.Equal(images.Skip(35).Select(b => b / 255f).ToArray(), row);
    }
}
