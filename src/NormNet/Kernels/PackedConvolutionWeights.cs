namespace NormNet.Kernels;

/// <summary>A convolution's weights packed once into the forward's panels, for a layer whose weights cannot change: the
/// private copies of <see cref="Deployment.GroupedInference"/>. The forward packs them on every call otherwise, because
/// tensors keep no version to tell it when they changed; at batch 1 that packing was 6-11% of an inference model's time.</summary>
/// <remarks>Holds the panels of <see cref="DirectConvolution.Rows"/> output channels (the padded-width tiles and the 1x1
/// convolutions) and, where the output channels come in blocks of <see cref="DirectConvolution.ChannelBlock"/>, of those
/// (the channel tiles): which one a call uses depends on its input's geometry and the thread count. The panels are those
/// the forward would pack, so the bits are the same.</remarks>
internal sealed class PackedConvolutionWeights
{
    private readonly float[] _rows4;
    private readonly float[]? _rows32;

    // w: (Cout, C, k, k), copied into the panels now
    public PackedConvolutionWeights(ReadOnlySpan<float> w, int c, int cout, int k)
    {
        if (w.Length != (long)cout * c * k * k)
            throw new ArgumentException($"Packed convolution weights: {w.Length} elements, expected {(long)cout * c * k * k} ({cout}, {c}, {k}, {k}).");
        (C, Cout, K) = (c, cout, k);
        _rows4 = Pack(w, DirectConvolution.Rows);
        if (cout % DirectConvolution.ChannelBlock == 0) _rows32 = Pack(w, DirectConvolution.ChannelBlock);
    }

    /// <summary>Input channels, output channels and kernel size the panels were packed for.</summary>
    public int C { get; }
    public int Cout { get; }
    public int K { get; }

    /// <summary>These panels, checked against the convolution they are used for (<paramref name="kernel"/> names it in the message).</summary>
    /// <exception cref="ArgumentException">They were packed for other channel counts or another kernel size.</exception>
    public PackedConvolutionWeights For(string kernel, ConvGeometry g, int cout) =>
        C == g.C && Cout == cout && K == g.KH ? this
            : throw new ArgumentException($"{kernel} {g} with {cout} outputs: weights packed for {Cout} outputs, {C} inputs, {K}x{K}.");

    /// <summary>The panels of <paramref name="rows"/> output channels (4, or 32 where the output channels are a multiple of 32).</summary>
    public float[] Panels(int rows) =>
        rows == DirectConvolution.Rows ? _rows4 : _rows32 ?? throw new InvalidOperationException($"No panels of {rows} channels for {Cout} output channels.");

    private float[] Pack(ReadOnlySpan<float> w, int rows)
    {
        int length = (Cout + rows - 1) / rows * rows * C * K * K;
        return DirectConvolution.PackForward(w, C, Cout, K, rows).AsSpan(0, length).ToArray();
    }
}
