using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>2-D convolution over (N, C_in, H, W) input, as <c>torch.nn.Conv2d</c> (square kernel, equal stride
/// and zero padding on both axes, no dilation or groups). A convolution with a kernel wider than 1x1 runs its forward as a direct convolution
/// (<see cref="DirectConvolution"/>, any stride) and its input gradient too; its weight gradient is direct as well where
/// vectors are 16 floats wide (<see cref="DirectConvolution.SupportsWeightGradient"/>), else im2col plus matrix products per chunk of
/// images. A 1x1 convolution without padding runs its forward as one product per image read in place
/// (<see cref="PointwiseConvolution"/>) and its backward as im2col plus matrix products; other convolutions run entirely as
/// im2col plus matrix products (<see cref="ConvolutionKernels"/>).</summary>
/// <remarks>Weights start Kaiming-uniform with fan-in C_in*k*k and the bias U(-1/sqrt(fan-in), 1/sqrt(fan-in)), PyTorch's defaults.</remarks>
public sealed class Conv2d : Module
{
    private Tensor? _input, _output, _gradInput, _zeros;
    private float[] _cols = [];
    private ConvGeometry _geometry;

    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true, Rng? rng = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        rng ??= Rng.Default;
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
    public override Tensor Forward(Tensor input) => Forward(input, FusedActivation.None);

    /// <summary>The forward with <paramref name="activation"/> applied in the kernels' epilogue (<see cref="ConvReLU2d"/>), and
    /// <paramref name="addend"/> (of the output's shape), if given, added before it (<see cref="ResidualReLU"/>): y = f(conv(x) + b + r),
    /// with the bits of the three steps one after another. The backward then takes the gradient with respect to the
    /// convolution's output, before the addition and the activation.</summary>
    internal Tensor Forward(Tensor input, FusedActivation activation, Tensor? addend = null)
    {
        var g = GeometryOf(input);
        var output = Reuse(ref _output, [g.N, OutChannels, g.OutH, g.OutW]);
        if (addend is not null && !addend.SameShape(output))
            throw new ArgumentException($"Conv2d({InChannels}, {OutChannels}): the addend {addend.ShapeString} differs from the output {output.ShapeString}.", nameof(addend));
        var bias = Bias is null ? default : Bias.Value.ReadOnlySpan;
        if (DirectConvolution.Preferred(g))
        {
            DirectConvolution.Forward(input.ReadOnlySpan, Weight.Value.ReadOnlySpan, bias, addend is null ? default : addend.ReadOnlySpan, g, OutChannels,
                output.Span, activation, Packed);
        }
        else if (PointwiseConvolution.Supports(g))
        {
            PointwiseConvolution.Forward(input.ReadOnlySpan, Weight.Value.ReadOnlySpan, bias, addend is null ? default : addend.ReadOnlySpan, g, OutChannels,
                output.Span, SimdDispatch.Widest, activation, Packed);
        }
        else
        {
            EnsureScratch(ref _cols, (long)g.PatchSize * g.N * g.OutPlane);
            ConvolutionKernels.Forward(input.ReadOnlySpan, Weight.Value.ReadOnlySpan, bias, g, OutChannels, _cols.AsSpan(0, g.PatchSize * g.N * g.OutPlane), output.Span,
                addend is null ? activation : FusedActivation.None);
            if (addend is not null)
            {
                // y = f(y + r), in passes of their own
                Elementwise.Add(output.ReadOnlySpan, addend.ReadOnlySpan, output.Span);
                if (activation == FusedActivation.Relu) Activations.Forward(Activations.Kind.Relu, output.ReadOnlySpan, output.Span);
            }
        }
        _input = input;
        _geometry = g;
        return output;
    }

    /// <summary>The weights packed once for the forward (<see cref="FreezeWeights"/>), or null: packed on every call.</summary>
    internal PackedConvolutionWeights? Packed { get; private set; }

    /// <summary>Packs the weights once, for a layer whose weights will not change again (<see cref="Deployment.GroupedInference"/>'s
    /// private copies): from here on the forward reads these panels, and the weight tensor is no longer read by it. The
    /// same bits.</summary>
    internal void FreezeWeights() => Packed = new PackedConvolutionWeights(Weight.Value.ReadOnlySpan, InChannels, OutChannels, KernelSize);

    /// <summary>The geometry of this convolution on <paramref name="input"/>, checked: (N, InChannels, H, W) with H and W
    /// large enough for the kernel.</summary>
    internal ConvGeometry GeometryOf(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4 || input.Dim(1) != InChannels)
            throw new ArgumentException($"Conv2d({InChannels}, {OutChannels}) expected input (N, {InChannels}, H, W), got {input.ShapeString}.", nameof(input));
        var g = new ConvGeometry(input.Dim(0), InChannels, input.Dim(2), input.Dim(3), KernelSize, KernelSize, Stride, Padding);
        g.Validate("Conv2d");
        return g;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var g = _geometry;
        var gradInput = RequiresInputGradient ? Reuse(ref _gradInput, _input!.Dims) : null;
        if (DirectConvolution.Preferred(g))
        {
            // the forward kept no columns: the weight gradient is a direct one (or, on machines without 32 vector registers,
            // unfolds each chunk of x itself); the input gradient is direct convolutions of dy (one per stride phase)
            var x = _input!.ReadOnlySpan;
            var dy = gradOutput.ReadOnlySpan;
            var db = Bias is null ? default : Bias.Grad.Span;
            bool directWeights = DirectConvolution.SupportsWeightGradient(g);
            bool directInput = gradInput is not null && DirectConvolution.SupportsInputGradient(g);
            if (directWeights) DirectConvolution.WeightGradient(dy, x, g, OutChannels, Weight.Grad.Span, db);
            if (directInput) DirectConvolution.InputGradient(dy, Weight.Value.ReadOnlySpan, g, OutChannels, gradInput!.Span);
            if (!directWeights || (gradInput is not null && !directInput))
                ConvolutionKernels.BackwardFromInput(dy, x, Weight.Value.ReadOnlySpan, g, OutChannels,
                    gradInput is null || directInput ? default : gradInput.Span, directWeights ? default : Weight.Grad.Span, directWeights ? default : db);
            return gradInput ?? Zeros(ref _zeros, _input!.Dims);
        }
        if (PointwiseConvolution.Supports(g))
        {
            // the forward kept no columns: the backward unfolds (subsamples) each chunk of x itself, with the same bits
            ConvolutionKernels.BackwardFromInput(gradOutput.ReadOnlySpan, _input!.ReadOnlySpan, Weight.Value.ReadOnlySpan, g, OutChannels,
                gradInput is null ? default : gradInput.Span, Weight.Grad.Span, Bias is null ? default : Bias.Grad.Span);
            return gradInput ?? Zeros(ref _zeros, _input!.Dims);
        }
        ConvolutionKernels.Backward(gradOutput.ReadOnlySpan, _cols.AsSpan(0, g.PatchSize * g.N * g.OutPlane), Weight.Value.ReadOnlySpan, g, OutChannels,
            gradInput is null ? default : gradInput.Span, Weight.Grad.Span, Bias is null ? default : Bias.Grad.Span);
        return gradInput ?? Zeros(ref _zeros, _input!.Dims);
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
