using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>A <see cref="Conv2d"/>, a ReLU and a 2x2, stride-2 <see cref="MaxPool2d"/> computed as one layer: each
/// channel's output is activated and pooled in the convolution's epilogue while it is in cache, so the full-size output
/// is never written to memory nor read back by a pooling pass. The convolution is child "0" (state names <c>0.weight</c>,
/// <c>0.bias</c>, as <see cref="ConvReLU2d"/>'s), the pooling child "1".</summary>
/// <remarks>
/// <para>Computes the same bits as the three layers one after another. Where the convolution does not run as a direct
/// convolution (1x1 kernels, see <see cref="DirectConvolution.Preferred"/>) it runs them one after another.</para>
/// <para>The backward recomputes the convolution's output (the forward keeps only the pooled one), then takes the pooling's,
/// the ReLU's and the convolution's backward in turn: the gradients of the three layers, at the cost of a second forward.
/// <see cref="Deployment.InferenceModel.Create"/> builds these from a Conv2d, the ReLU and the 2x2 max pooling after it.</para>
/// </remarks>
public sealed class ConvReLUMaxPool2d : Module
{
    private Tensor? _input, _output, _gradConv;

    /// <summary>Fuses <paramref name="conv"/> with a ReLU and <paramref name="pool"/> after it (the layers are used, not copied).</summary>
    /// <exception cref="ArgumentException"><paramref name="pool"/> is not a 2x2 window at stride 2 without padding.</exception>
    public ConvReLUMaxPool2d(Conv2d conv, MaxPool2d pool)
    {
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(pool);
        if (!Fusable(pool))
            throw new ArgumentException($"ConvReLUMaxPool2d fuses MaxPool2d(2) (kernel 2, stride 2, padding 0), got kernel {pool.KernelSize}, stride {pool.Stride}, padding {pool.Padding}.", nameof(pool));
        Conv = conv;
        Pool = pool;
    }

    /// <summary>The convolution.</summary>
    public Conv2d Conv { get; }

    /// <summary>The pooling after the ReLU.</summary>
    public MaxPool2d Pool { get; }

    /// <summary>Whether <paramref name="pool"/> can be fused: a 2x2 window at stride 2 without padding.</summary>
    public static bool Fusable(MaxPool2d pool) => pool is { KernelSize: 2, Stride: 2, Padding: 0 };

    /// <inheritdoc />
    /// <remarks>Passed on to the convolution.</remarks>
    public override bool RequiresInputGradient
    {
        get => base.RequiresInputGradient;
        set
        {
            base.RequiresInputGradient = value;
            Conv.RequiresInputGradient = value;
        }
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var g = Conv.GeometryOf(input);
        if (!DirectConvolution.Preferred(g))
        {
            _output = Pool.Forward(Conv.Forward(input, FusedActivation.Relu));
            _input = input;
            return _output;
        }
        new ConvGeometry(g.N, Conv.OutChannels, g.OutH, g.OutW, 2, 2, 2, 0).Validate(nameof(MaxPool2d));
        var output = Reuse(ref _output, [g.N, Conv.OutChannels, g.OutH / 2, g.OutW / 2]);
        // y = maxpool2x2(max(conv(x) + b, 0)), in the convolution's epilogue
        DirectConvolution.ForwardMaxPool2x2(input.ReadOnlySpan, Conv.Weight.Value.ReadOnlySpan, Conv.Bias is null ? default : Conv.Bias.Value.ReadOnlySpan,
            g, Conv.OutChannels, output.Span, SimdDispatch.Widest, FusedActivation.Relu, Conv.Packed);
        _input = input;
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _output);
        // the full-size output again, then the three backwards: pooling (its positions found from that output), ReLU, convolution
        var activated = Conv.Forward(_input!, FusedActivation.Relu);
        Pool.Forward(activated);
        var gradActivated = Pool.Backward(gradOutput);
        var gradConv = Reuse(ref _gradConv, activated.Dims);
        // d conv = d activated * (y > 0)
        Activations.Backward(Activations.Kind.Relu, gradActivated.ReadOnlySpan, activated.ReadOnlySpan, activated.ReadOnlySpan, gradConv.Span);
        return Conv.Backward(gradConv);
    }

    /// <inheritdoc />
    public override IEnumerable<(string Name, Module Module)> Children()
    {
        yield return ("0", Conv);
        yield return ("1", Pool);
    }
}
