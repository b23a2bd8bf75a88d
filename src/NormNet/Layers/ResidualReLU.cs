using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>A <see cref="Residual"/> block followed by ReLU computed as one layer, relu(body(x) + shortcut(x)): where the
/// body is a <see cref="Sequential"/> ending in a <see cref="Conv2d"/>, the addition and the ReLU are applied in that
/// convolution's epilogue as each output tile is stored (<see cref="DirectConvolution.ForwardAdd(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, FusedActivation)"/>),
/// instead of a pass for the addition and another for the ReLU over the block's output. The block is child "0" (state
/// names <c>0.body.…</c>, <c>0.shortcut.…</c>).</summary>
/// <remarks>Computes the same bits as the block followed by <see cref="ReLU"/>, forward and backward. The shortcut runs
/// first (its output is the addend). The backward masks the output gradient where the output is not positive and passes
/// it to the body and the shortcut, as the block's backward does. <see cref="Deployment.InferenceModel.Create"/> builds these
/// from a Residual and the ReLU after it.</remarks>
public sealed class ResidualReLU : Module
{
    private Tensor? _input, _output, _gradSum, _gradInput;
    private bool _fused;

    /// <summary>Fuses <paramref name="block"/> with a ReLU after it (the block is used, not copied).</summary>
    public ResidualReLU(Residual block)
    {
        ArgumentNullException.ThrowIfNull(block);
        Block = block;
    }

    /// <summary>The residual block.</summary>
    public Residual Block { get; }

    /// <inheritdoc />
    /// <remarks>Passed on to the block.</remarks>
    public override bool RequiresInputGradient
    {
        get => base.RequiresInputGradient;
        set
        {
            base.RequiresInputGradient = value;
            Block.RequiresInputGradient = value;
        }
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _input = input;
        _fused = Block.Body is Sequential { Count: > 0 } body && body[body.Count - 1] is Conv2d;
        if (!_fused)
        {
            // y = max(block(x), 0), in a pass of its own
            var sum = Block.Forward(input);
            _output = Reuse(ref _output, sum.Dims);
            Activations.Forward(Activations.Kind.Relu, sum.ReadOnlySpan, _output.Span);
            return _output;
        }
        var layers = (Sequential)Block.Body;
        var s = Block.Shortcut is null ? input : Block.Shortcut.Forward(input);
        var h = input;
        for (int i = 0; i < layers.Count - 1; i++) h = layers[i].Forward(h);
        var conv = (Conv2d)layers[layers.Count - 1];
        var g = conv.GeometryOf(h);
        if (!s.HasShape([g.N, conv.OutChannels, g.OutH, g.OutW]))
            throw new ArgumentException($"Residual: body output ({g.N}, {conv.OutChannels}, {g.OutH}, {g.OutW}) and shortcut output {s.ShapeString} differ; add a shortcut projection.");
        // y = max(conv(h) + b + s, 0), in the last convolution's epilogue
        _output = conv.Forward(h, FusedActivation.Relu, s);
        return _output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _output);
        var gradSum = Reuse(ref _gradSum, _output!.Dims);
        // d (body + shortcut) = dy * (y > 0)
        Activations.Backward(Activations.Kind.Relu, gradOutput.ReadOnlySpan, _output.ReadOnlySpan, _output.ReadOnlySpan, gradSum.Span);
        if (!_fused) return Block.Backward(gradSum);
        var fromBody = Block.Body.Backward(gradSum);
        var fromShortcut = Block.Shortcut is null ? gradSum : Block.Shortcut.Backward(gradSum);
        var gradInput = Reuse(ref _gradInput, _input!.Dims);
        // dx = d body/dx^T g + d shortcut/dx^T g
        Elementwise.Add(fromBody.ReadOnlySpan, fromShortcut.ReadOnlySpan, gradInput.Span);
        return gradInput;
    }

    /// <inheritdoc />
    public override IEnumerable<(string Name, Module Module)> Children()
    {
        yield return ("0", Block);
    }
}
