namespace NormNet.Kernels;

/// <summary>The sizes of a 2-D convolution or pooling window over an (N, C, H, W) input.</summary>
/// <param name="N">Batch size.</param>
/// <param name="C">Input channels.</param>
/// <param name="H">Input height.</param>
/// <param name="W">Input width.</param>
/// <param name="KH">Kernel height.</param>
/// <param name="KW">Kernel width.</param>
/// <param name="Stride">Step between windows (both axes).</param>
/// <param name="Padding">Zero padding on every side.</param>
public readonly record struct ConvGeometry(int N, int C, int H, int W, int KH, int KW, int Stride, int Padding)
{
    /// <summary>Output height: floor((H + 2p - kh) / s) + 1.</summary>
    public int OutH => (H + 2 * Padding - KH) / Stride + 1;

    /// <summary>Output width: floor((W + 2p - kw) / s) + 1.</summary>
    public int OutW => (W + 2 * Padding - KW) / Stride + 1;

    /// <summary>Output positions per image.</summary>
    public int OutPlane => OutH * OutW;

    /// <summary>Rows of the im2col matrix: C * kh * kw.</summary>
    public int PatchSize => C * KH * KW;

    /// <summary>Throws unless the window fits the padded input.</summary>
    public void Validate(string layer)
    {
        if (KH < 1 || KW < 1 || Stride < 1 || Padding < 0)
            throw new ArgumentException($"{layer}: kernel {KH}x{KW}, stride {Stride}, padding {Padding} must be positive (padding non-negative).");
        if (H + 2 * Padding < KH || W + 2 * Padding < KW)
            throw new ArgumentException($"{layer}: kernel {KH}x{KW} is larger than the padded input {H + 2 * Padding}x{W + 2 * Padding}.");
    }
}
