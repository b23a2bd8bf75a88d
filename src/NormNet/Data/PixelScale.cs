namespace NormNet.Data;

/// <summary>Pixel scaling from bytes to floats in [0, 1]: <c>x = byte / 255f</c>, as torchvision's <c>ToTensor</c>.</summary>
/// <remarks>A 256-entry table, so the loader and <see cref="Standardizer.Fit(Dataset)"/> see bit-identical values.</remarks>
internal static class PixelScale
{
    /// <summary><c>Table[b] = b / 255f</c>.</summary>
    public static readonly float[] Table = Enumerable.Range(0, 256).Select(b => b / 255f).ToArray();
}
