using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>
/// Group normalization (Wu and He, 2018) over (N, C, *) input, as <c>torch.nn.GroupNorm</c>: the C channels of each
/// sample are split into <see cref="NumGroups"/> groups of C / G consecutive channels, each group is normalized with
/// its own mean and biased variance, then a per-channel affine is applied.
/// </summary>
/// <remarks>
/// The statistics never involve other samples, so training and eval mode compute the same function and the layer
/// behaves identically for any batch size (including 1). G = 1 normalizes each sample over all its values (a LayerNorm
/// over (C, *) with a per-channel affine); G = C is an InstanceNorm with affine.
/// </remarks>
public sealed class GroupNorm : Module
{
    private double[] _mean = [], _invstd = [], _variance = [];
    private Tensor? _input, _output, _gradInput;
    private SampleNormShape _shape;

    /// <summary>Creates the layer; the arguments and defaults are PyTorch's.</summary>
    /// <param name="numGroups">G, the number of groups; must divide <paramref name="numChannels"/>.</param>
    /// <param name="numChannels">C, the number of channels of the input.</param>
    /// <param name="eps">Added to the variance for numerical stability.</param>
    /// <param name="affine">Whether to learn a per-channel scale (weight) and shift (bias).</param>
    /// <exception cref="ArgumentException">C is not divisible by G.</exception>
    public GroupNorm(int numGroups, int numChannels, double eps = 1e-5, bool affine = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numGroups, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(numChannels, 1);
        if (numChannels % numGroups != 0)
            throw new ArgumentException(
                $"GroupNorm: numChannels ({numChannels}) must be divisible by numGroups ({numGroups}); " +
                $"{numChannels} % {numGroups} = {numChannels % numGroups}.", nameof(numGroups));
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be non-negative.");
        NumGroups = numGroups;
        NumChannels = numChannels;
        Eps = eps;
        Affine = affine;
        if (affine)
        {
            Weight = new Parameter(Tensor.Full(1f, numChannels), ParameterRole.NormWeight);
            Bias = new Parameter(Tensor.Zeros(numChannels), ParameterRole.NormBias);
        }
    }

    /// <summary>G, the number of groups.</summary>
    public int NumGroups { get; }

    /// <summary>C, the number of channels.</summary>
    public int NumChannels { get; }

    /// <summary>The epsilon added to the variance.</summary>
    public double Eps { get; }

    /// <summary>Whether the layer has <see cref="Weight"/> and <see cref="Bias"/>.</summary>
    public bool Affine { get; }

    /// <summary>gamma, shape (C); null when not affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>beta, shape (C); null when not affine.</summary>
    public Parameter? Bias { get; }

    /// <summary>The last forward's mean per (sample, group), N * G values in order (n, g).</summary>
    public ReadOnlySpan<double> GroupMean => _mean;

    /// <summary>The last forward's biased variance per (sample, group).</summary>
    public ReadOnlySpan<double> GroupVariance => _variance;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2)
            throw new ArgumentException($"GroupNorm expected (N, C, *) input of rank 2 or more, got shape {input.ShapeString}.", nameof(input));
        if (input.Dim(1) != NumChannels)
            throw new ArgumentException(
                $"GroupNorm({NumGroups}, {NumChannels}) expected {NumChannels} channels on axis 1, got shape {input.ShapeString}.", nameof(input));
        if (input.Length == 0)
            throw new ArgumentException($"GroupNorm got an empty input of shape {input.ShapeString}.", nameof(input));
        _shape = new SampleNormShape(input.Dim(0), NumGroups, NumChannels / NumGroups, input.Length / (input.Dim(0) * NumChannels));
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
