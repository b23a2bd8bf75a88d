using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>2-D convolution over (N, C_in, H, W) input, as <c>torch.nn.Conv2d</c> (square kernel, equal stride
/// and zero padding on both axes, no dilation or groups), computed as im2col plus one matrix product per batch.</summary>
/// <remarks>Weights start Kaiming-uniform with fan-in C_in*k*k and the bias U(-1/sqrt(fan-in), 1/sqrt(fan-in)), PyTorch's defaults.</remarks>
public sealed class Conv2d : Module
{
    private Tensor? _input, _output, _gradInput;
    private float[] _cols = [], _gradCols = [], _product = [];
    private ConvGeometry _geometry;

    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true, Rng? rng = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        rng ??= Rng.Global;
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        int fanIn = inChannels * kernelSize * kernelSize;
        Weight = new Parameter(Tensor.Zeros(outChannels, inChannels, kernelSize, kernelSize), ParameterRole.Weight);
        Init.KaimingUniform(Weight.Value, fanIn, rng);
        if (bias)
        {
            Bias = new Parameter(Tensor.Zeros(outChannels), ParameterRole.Bias);
            Init.DefaultBias(Bias.Value, fanIn, rng);
        }
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel height and width.</summary>
    public int KernelSize { get; }

    /// <summary>Stride on both axes.</summary>
    public int Stride { get; }

    /// <summary>Zero padding on every side.</summary>
    public int Padding { get; }

    /// <summary>Kernel, shape (C_out, C_in, k, k).</summary>
    public Parameter Weight { get; }

    /// <summary>Bias, shape (C_out); null without bias.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4 || input.Dim(1) != InChannels)
            throw new ArgumentException($"Conv2d({InChannels}, {OutChannels}) expected input (N, {InChannels}, H, W), got {input.ShapeString}.", nameof(input));
        var g = new ConvGeometry(input.Dim(0), InChannels, input.Dim(2), input.Dim(3), KernelSize, KernelSize, Stride, Padding);
        g.Validate("Conv2d");
        int k = g.PatchSize, columns = g.N * g.OutPlane;
        EnsureScratch(ref _cols, (long)k * columns);
        EnsureScratch(ref _product, (long)OutChannels * columns);
        // cols = im2col(x); Y' (C_out x N*P) = W cols; y[n, co, p] = Y'[co, n*P + p] + b[co]
        Im2Col.Unfold(input.ReadOnlySpan, g, _cols.AsSpan(0, k * columns));
        Gemm.Sgemm(false, false, OutChannels, columns, k, 1f, Weight.Value.ReadOnlySpan, k, _cols, columns, 0f, _product, columns);
        var output = Reuse(ref _output, [g.N, OutChannels, g.OutH, g.OutW]);
        Layout.ChannelMajorToBatchMajor(_product, g.N, OutChannels, g.OutPlane, Bias is null ? default : Bias.Value.ReadOnlySpan, output.Span);
        _input = input;
        _geometry = g;
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var g = _geometry;
        int k = g.PatchSize, columns = g.N * g.OutPlane;
        // dY' (C_out x N*P) from dy (N, C_out, P); dW += dY' cols^T; db += row sums; dcols = W^T dY'; dx = col2im(dcols)
        Layout.BatchMajorToChannelMajor(gradOutput.ReadOnlySpan, g.N, OutChannels, g.OutPlane, _product);
        Gemm.Sgemm(false, true, OutChannels, k, columns, 1f, _product, columns, _cols, columns, 1f, Weight.Grad.Span, k);
        if (Bias is not null) Reductions.AddChannelSums(_product.AsSpan(0, OutChannels * columns), 1, OutChannels, columns, Bias.Grad.Span);
        EnsureScratch(ref _gradCols, (long)k * columns);
        Gemm.Sgemm(true, false, k, columns, OutChannels, 1f, Weight.Value.ReadOnlySpan, k, _product, columns, 0f, _gradCols, columns);
        var gradInput = Reuse(ref _gradInput, _input!.Dims);
        Im2Col.Fold(_gradCols.AsSpan(0, k * columns), g, gradInput.Span);
        return gradInput;
    }

    private static void EnsureScratch(ref float[] buffer, long length)
    {
        if (buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>(checked((int)length), pinned: true);
    }

    /// <inheritdoc />
    protected override IEnumerable<(string Name, Parameter Parameter)> OwnParameters()
    {
        yield return ("weight", Weight);
        if (Bias is not null) yield return ("bias", Bias);
    }
}
