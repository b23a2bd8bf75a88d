using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>The forward product shared by <see cref="Linear"/> and <see cref="FrozenLinear"/>, which differ only in how
/// they store W: the input check, the bias broadcast and the product.</summary>
internal static class LinearProduct
{
    /// <summary>The batch size N of <paramref name="input"/>, after checking it is (N, in); the message names the layer.</summary>
    public static int BatchOf(string layer, int inFeatures, int outFeatures, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 2 || input.Dim(1) != inFeatures)
            throw new ArgumentException($"{layer}({inFeatures}, {outFeatures}) expected input (N, {inFeatures}), got {input.ShapeString}.", nameof(input));
        return input.Dim(0);
    }

    // x: (n, in); w: W (out, in) when storedAsW, else W^T (in, out); bias: (out) or empty; y: (n, out), overwritten
    /// <summary>y = x W^T (+ b broadcast over rows), reading W as it is stored.</summary>
    public static void Forward(ReadOnlySpan<float> x, int n, int inFeatures, int outFeatures, ReadOnlySpan<float> w, bool storedAsW,
        ReadOnlySpan<float> bias, Span<float> y)
    {
        if (!bias.IsEmpty)
            for (int i = 0; i < n; i++) bias.CopyTo(y.Slice(i * outFeatures, outFeatures));
        Gemm.Sgemm(false, storedAsW, n, outFeatures, inFeatures, 1f, x, inFeatures, w, storedAsW ? inFeatures : outFeatures,
            bias.IsEmpty ? 0f : 1f, y, outFeatures);
    }
}
