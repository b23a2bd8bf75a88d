using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>Base of the element-wise activations; the output has the input's shape.</summary>
public abstract class Activation(Activations.Kind kind) : Module
{
    private Tensor? _input, _output, _gradInput;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var output = Reuse(ref _output, input.Dims);
        Activations.Forward(kind, input.ReadOnlySpan, output.Span);
        _input = input;
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var gradInput = Reuse(ref _gradInput, _input!.Dims);
        Activations.Backward(kind, gradOutput.ReadOnlySpan, _input.ReadOnlySpan, _output!.ReadOnlySpan, gradInput.Span);
        return gradInput;
    }
}

/// <summary>max(x, 0), as <c>torch.nn.ReLU</c>.</summary>
public sealed class ReLU() : Activation(Activations.Kind.Relu);

/// <summary>1 / (1 + exp(-x)), as <c>torch.nn.Sigmoid</c>.</summary>
public sealed class Sigmoid() : Activation(Activations.Kind.Sigmoid);

/// <summary>tanh(x), as <c>torch.nn.Tanh</c>.</summary>
public sealed class Tanh() : Activation(Activations.Kind.Tanh);
