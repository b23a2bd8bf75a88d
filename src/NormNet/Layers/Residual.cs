using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>A residual connection y = body(x) + shortcut(x), with the identity as the default shortcut
/// (children "body" and "shortcut"). Put the activation after it in a <see cref="Sequential"/> for a
/// post-activation ResNet block.</summary>
public sealed class Residual : Module
{
    private Tensor? _input, _output, _gradInput;

    /// <summary>Creates the block.</summary>
    public Residual(Module body, Module? shortcut = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        Body = body;
        Shortcut = shortcut;
    }

    /// <inheritdoc />
    /// <remarks>Passed on to the body and the shortcut, which both see this block's input.</remarks>
    public override bool RequiresInputGradient
    {
        get => base.RequiresInputGradient;
        set
        {
            base.RequiresInputGradient = value;
            Body.RequiresInputGradient = value;
            if (Shortcut is not null) Shortcut.RequiresInputGradient = value;
        }
    }

    /// <summary>f in x + f(x).</summary>
    public Module Body { get; }

    /// <summary>The projection applied to x (e.g. a strided 1x1 convolution with BN), or null for the identity.</summary>
    public Module? Shortcut { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var f = Body.Forward(input);
        var s = Shortcut is null ? input : Shortcut.Forward(input);
        if (!f.SameShape(s))
            throw new ArgumentException($"Residual: body output {f.ShapeString} and shortcut output {s.ShapeString} differ; add a shortcut projection.");
        var output = Reuse(ref _output, f.Dims);
        // y = f(x) + s(x)
        Elementwise.Add(f.ReadOnlySpan, s.ReadOnlySpan, output.Span);
        _input = input;
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var fromBody = Body.Backward(gradOutput);
        var fromShortcut = Shortcut is null ? gradOutput : Shortcut.Backward(gradOutput);
        var gradInput = Reuse(ref _gradInput, _input!.Dims);
        // dx = df/dx^T g + ds/dx^T g
        Elementwise.Add(fromBody.ReadOnlySpan, fromShortcut.ReadOnlySpan, gradInput.Span);
        return gradInput;
    }

    /// <inheritdoc />
    public override IEnumerable<(string Name, Module Module)> Children()
    {
        yield return ("body", Body);
        if (Shortcut is not null) yield return ("shortcut", Shortcut);
    }
}
