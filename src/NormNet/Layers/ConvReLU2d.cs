using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>A <see cref="Conv2d"/> followed by ReLU computed as one layer, as PyTorch's fused
/// <c>torch.ao.nn.intrinsic.ConvReLU2d</c>: the ReLU is applied in the convolution's epilogue, as each output tile is
/// stored, instead of in a pass of its own over the output. The convolution is child "0" (state names <c>0.weight</c>,
/// <c>0.bias</c>, as PyTorch's).</summary>
/// <remarks>Computes the same bits as the convolution followed by <see cref="ReLU"/>. The backward masks the output
/// gradient where the output is not positive (y &gt; 0 exactly where the convolution's output is) and passes it to the
/// convolution. <see cref="Deployment.InferenceModel.Create"/> builds these from a Conv2d and the ReLU after it.</remarks>
public sealed class ConvReLU2d : Module
{
    private Tensor? _output, _gradConv;

    /// <summary>Fuses <paramref name="conv"/> with a ReLU after it (the layer is used, not copied).</summary>
    public ConvReLU2d(Conv2d conv)
    {
        ArgumentNullException.ThrowIfNull(conv);
        Conv = conv;
    }

    /// <summary>The convolution.</summary>
    public Conv2d Conv { get; }

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
        // y = max(conv(x), 0), in the convolution's epilogue
        _output = Conv.Forward(input, FusedActivation.Relu);
        return _output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _output);
        var gradConv = Reuse(ref _gradConv, _output!.Dims);
        // d conv = dy * (y > 0)
        Activations.Backward(Activations.Kind.Relu, gradOutput.ReadOnlySpan, _output.ReadOnlySpan, _output.ReadOnlySpan, gradConv.Span);
        return Conv.Backward(gradConv);
    }

    /// <inheritdoc />
    public override IEnumerable<(string Name, Module Module)> Children()
    {
        yield return ("0", Conv);
    }
}
