namespace NormNet.Layers;

/// <summary>What a parameter is for; optimizers use it to exclude norm and bias parameters from weight decay.</summary>
public enum ParameterRole
{
    /// <summary>A weight matrix or convolution kernel.</summary>
    Weight,
    /// <summary>An additive bias.</summary>
    Bias,
    /// <summary>A normalization layer's scale (gamma).</summary>
    NormWeight,
    /// <summary>A normalization layer's shift (beta).</summary>
    NormBias,
}

/// <summary>A trainable tensor and its gradient, as <c>torch.nn.Parameter</c> with <c>.grad</c>.</summary>
/// <remarks><see cref="Grad"/> accumulates across <c>Backward</c> calls until <see cref="ZeroGrad"/>.</remarks>
public sealed class Parameter
{
    /// <summary>Wraps <paramref name="value"/> with a zero gradient of the same shape.</summary>
    public Parameter(Tensor value, ParameterRole role = ParameterRole.Weight)
    {
        ArgumentNullException.ThrowIfNull(value);
        Value = value;
        Grad = Tensor.Zeros(value.Shape);
        Role = role;
    }

    /// <summary>The parameter's current value.</summary>
    public Tensor Value { get; }

    /// <summary>The accumulated gradient of the loss with respect to <see cref="Value"/>.</summary>
    public Tensor Grad { get; }

    /// <summary>What the parameter is for.</summary>
    public ParameterRole Role { get; }

    /// <summary>Sets the gradient to zero.</summary>
    public void ZeroGrad() => Grad.Span.Clear();
}
