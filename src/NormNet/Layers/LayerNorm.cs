using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>
/// Layer normalization (Ba, Kiros and Hinton, 2016), as <c>torch.nn.LayerNorm</c>: each input is normalized over its
/// trailing dimensions <see cref="NormalizedShape"/> with its own mean and biased variance, then an elementwise affine
/// of that shape is applied.
/// </summary>
/// <remarks>
/// The statistics never involve other samples, so training and eval mode compute the same function. Note the
/// affine is elementwise (weight shape = normalized shape), unlike GroupNorm's per-channel one: LayerNorm([C, H, W])
/// on images learns C * H * W scales.
/// </remarks>
public sealed class LayerNorm : Module
{
    private readonly int[] _normalizedShape;
    private readonly int _rowLength;
    private double[] _mean = [], _invstd = [], _variance = [];
    private Tensor? _input, _output, _gradInput;
    private SampleNormShape _shape;

    /// <summary>Creates the layer; the arguments and defaults are PyTorch's.</summary>
    /// <param name="normalizedShape">The trailing dimensions normalized over, e.g. [C] for (N, T, C) input.</param>
    /// <param name="eps">Added to the variance for numerical stability.</param>
    /// <param name="elementwiseAffine">Whether to learn an elementwise scale (weight, ones) and shift (bias, zeros).</param>
    /// <param name="bias">Whether the affine has a shift (PyTorch 2.1's <c>bias</c>); ignored without the affine.</param>
    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        if (normalizedShape.Length == 0 || normalizedShape.Any(d => d < 1))
            throw new ArgumentException(
                $"LayerNorm expected a non-empty normalized shape of positive dimensions, got {Tensor.Format(normalizedShape)}.", nameof(normalizedShape));
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be non-negative.");
        _normalizedShape = (int[])normalizedShape.Clone();
        _rowLength = normalizedShape.Aggregate(1, (p, v) => checked(p * v));
        Eps = eps;
        ElementwiseAffine = elementwiseAffine;
        if (elementwiseAffine)
        {
            Weight = new Parameter(Tensor.Full(1f, _normalizedShape), ParameterRole.NormWeight);
            if (bias) Bias = new Parameter(Tensor.Zeros(_normalizedShape), ParameterRole.NormBias);
        }
    }

    /// <summary>Creates a layer normalizing over the last dimension, of size <paramref name="normalizedShape"/>.</summary>
    public LayerNorm(int normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true)
        : this([normalizedShape], eps, elementwiseAffine, bias)
    {
    }

    /// <summary>The trailing dimensions normalized over.</summary>
    public ReadOnlySpan<int> NormalizedShape => _normalizedShape;

    /// <summary>The epsilon added to the variance.</summary>
    public double Eps { get; }

    /// <summary>Whether the layer has an elementwise <see cref="Weight"/> (and <see cref="Bias"/>, unless disabled).</summary>
    public bool ElementwiseAffine { get; }

    /// <summary>gamma, of the normalized shape; null without the affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>beta, of the normalized shape; null without the affine or with <c>bias = false</c>.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        int k = _normalizedShape.Length;
        if (input.Rank < k || !input.Dims[(input.Rank - k)..].SequenceEqual(_normalizedShape))
            throw new ArgumentException(
                $"LayerNorm: given normalized shape {Tensor.Format(_normalizedShape)}, expected input of shape (*, " +
                $"{string.Join(", ", _normalizedShape)}), got shape {input.ShapeString}.", nameof(input));
        if (input.Length == 0)
            throw new ArgumentException($"LayerNorm got an empty input of shape {input.ShapeString}.", nameof(input));
        _shape = new SampleNormShape(input.Length / _rowLength, 1, _rowLength, 1);
        if (_mean.Length != _shape.Rows)
        {
            _mean = new double[_shape.Rows];
            _invstd = new double[_shape.Rows];
            _variance = new double[_shape.Rows];
        }
        var output = Reuse(ref _output, input.Dims);
        SampleNorm.Forward(input.ReadOnlySpan, Weight is null ? default : Weight.Value.ReadOnlySpan,
            Bias is null ? default : Bias.Value.ReadOnlySpan, _shape, Eps, output.Span, _mean, _invstd, _variance);
        _input = input;
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var gradInput = Reuse(ref _gradInput, _input!.Dims);
        SampleNorm.Backward(gradOutput.ReadOnlySpan, _input.ReadOnlySpan, Weight is null ? default : Weight.Value.ReadOnlySpan,
            _mean, _invstd, _shape, gradInput.Span, Weight is null ? default : Weight.Grad.Span, Bias is null ? default : Bias.Grad.Span);
        return gradInput;
    }

    /// <inheritdoc />
    protected override IEnumerable<(string Name, Parameter Parameter)> OwnParameters()
    {
        if (Weight is not null) yield return ("weight", Weight);
        if (Bias is not null) yield return ("bias", Bias);
    }
}
