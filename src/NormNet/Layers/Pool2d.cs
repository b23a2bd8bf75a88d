using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>Shared shape handling of <see cref="MaxPool2d"/> and <see cref="AvgPool2d"/>.</summary>
public abstract class Pool2d : Module
{
    private protected Tensor? Input, Output, GradInput;
    private protected ConvGeometry Geometry;
    private readonly string _name;

    /// <summary>Creates a pooling layer; <paramref name="stride"/> defaults to the kernel size, as in PyTorch.</summary>
    protected Pool2d(int kernelSize, int? stride, int padding)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelSize, 1);
        if (stride is < 1) throw new ArgumentOutOfRangeException(nameof(stride), stride, "stride must be at least 1.");
        if (padding < 0 || padding > kernelSize / 2)
            throw new ArgumentOutOfRangeException(nameof(padding), padding, $"padding must be between 0 and half the kernel size ({kernelSize / 2}).");
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding;
        _name = GetType().Name; // once: Type.Name allocates again whenever a collection has dropped the type's cache
    }

    /// <summary>Window height and width.</summary>
    public int KernelSize { get; }

    /// <summary>Step between windows.</summary>
    public int Stride { get; }

    /// <summary>Implicit padding on every side.</summary>
    public int Padding { get; }

    private protected ConvGeometry Prepare(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4)
            throw new ArgumentException($"{GetType().Name} expected 4D (N, C, H, W) input, got {input.ShapeString}.", nameof(input));
        var g = new ConvGeometry(input.Dim(0), input.Dim(1), input.Dim(2), input.Dim(3), KernelSize, KernelSize, Stride, Padding);
        g.Validate(_name);
        Input = input;
        Geometry = g;
        return g;
    }
}

/// <summary>Max pooling, as <c>torch.nn.MaxPool2d</c> (ceil_mode false, dilation 1).</summary>
/// <remarks>In training mode the forward records where each maximum came from; in eval mode it does not (inference needs
/// no gradient), and a backward after an eval-mode forward finds the positions again from the kept input.</remarks>
public sealed class MaxPool2d(int kernelSize, int? stride = null, int padding = 0) : Pool2d(kernelSize, stride, padding)
{
    private int[] _argmax = [];
    private bool _argmaxRecorded;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var g = Prepare(input);
        var output = Reuse(ref Output, [g.N, g.C, g.OutH, g.OutW]);
        _argmaxRecorded = Training;
        Pooling.MaxForward(input.ReadOnlySpan, g, output.Span, Training ? Argmax(output.Length) : default);
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, Input is null ? null : Output);
        if (!_argmaxRecorded)
        {
            // the same input gives the same maxima: y is rewritten with its own bits while the positions are recorded
            Pooling.MaxForward(Input!.ReadOnlySpan, Geometry, Output!.Span, Argmax(Output.Length));
            _argmaxRecorded = true;
        }
        var gradInput = Reuse(ref GradInput, Input!.Dims);
        Pooling.MaxBackward(gradOutput.ReadOnlySpan, _argmax.AsSpan(0, Output!.Length), Geometry, gradInput.Span);
        return gradInput;
    }

    private Span<int> Argmax(int length)
    {
        if (_argmax.Length != length) _argmax = new int[length];
        return _argmax;
    }
}

/// <summary>Average pooling, as <c>torch.nn.AvgPool2d</c> (count_include_pad true, ceil_mode false).</summary>
public sealed class AvgPool2d(int kernelSize, int? stride = null, int padding = 0) : Pool2d(kernelSize, stride, padding)
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var g = Prepare(input);
        var output = Reuse(ref Output, [g.N, g.C, g.OutH, g.OutW]);
        Pooling.AvgForward(input.ReadOnlySpan, g, output.Span);
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, Input is null ? null : Output);
        var gradInput = Reuse(ref GradInput, Input!.Dims);
        Pooling.AvgBackward(gradOutput.ReadOnlySpan, Geometry, gradInput.Span);
        return gradInput;
    }
}
