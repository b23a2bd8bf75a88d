using System.Globalization;

namespace NormNet.Images;

/// <summary>An image size in pixels, height then width (as torchvision's <c>Resize((h, w))</c>).</summary>
/// <param name="Height">H, rows.</param>
/// <param name="Width">W, columns.</param>
public readonly record struct ImageSize(int Height, int Width)
{
    /// <summary>The size as <c>HxW</c>, e.g. <c>32x48</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Height}x{Width}");

    /// <summary>Parses <c>HxW</c> (e.g. <c>32x48</c>) or a single number for a square (<c>32</c>), as <c>--image-size</c> takes.</summary>
    /// <exception cref="FormatException">The text is not one or two positive whole numbers joined by 'x'.</exception>
    public static ImageSize Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('x', 'X');
        if (parts.Length is 1 or 2 && parts.All(IsPositive))
        {
            int h = int.Parse(parts[0], CultureInfo.InvariantCulture);
            return new ImageSize(h, parts.Length == 1 ? h : int.Parse(parts[1], CultureInfo.InvariantCulture));
        }
        throw new FormatException($"Expected an image size HxW (e.g. 32x48) or a single size (e.g. 32), found '{text}'.");
    }

    private static bool IsPositive(string s) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v is > 0 and <= 1 << 16;

    /// <summary>Checks that both sides are positive.</summary>
    internal void Check(string what)
    {
        if (Height < 1 || Width < 1)
            throw new ArgumentOutOfRangeException(what, this, "Expected an image size of positive height and width.");
    }
}
