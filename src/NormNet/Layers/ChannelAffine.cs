namespace NormNet.Layers;

/// <summary>
/// A per-channel affine map y = x * scale[c] + shift[c] over (N, C) or (N, C, ...) input: what an eval-mode batch
/// norm layer computes, <c>scale = gamma / sqrt(running_var + eps)</c> and <c>shift = beta - running_mean * scale</c>,
/// with the statistics baked in. <see cref="Deployment.BatchNormFolding"/> puts one where a batch norm layer has no
/// Linear or Conv2d before it to fold into.
/// </summary>
/// <remarks>Scale and shift are parameters (state names <c>scale</c> and <c>shift</c>), so the layer can be
/// fine-tuned; they take the norm-parameter roles, which optimizers exclude from weight decay.</remarks>
public sealed class ChannelAffine : Module
{
    private Tensor? _input, _output, _gradInput;

    /// <summary>Creates the identity map (scale 1, shift 0) over <paramref name="channels"/> channels.</summary>
    public ChannelAffine(int channels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        Scale = new Parameter(Tensor.Full(1f, channels), ParameterRole.NormWeight);
        Shift = new Parameter(Tensor.Zeros(channels), ParameterRole.NormBias);
    }

    /// <summary>Creates the map with copies of the given per-channel scale and shift.</summary>
    /// <exception cref="ArgumentException">The lengths differ or are zero.</exception>
    public ChannelAffine(float[] scale, float[] shift)
    {
        ArgumentNullException.ThrowIfNull(scale);
        ArgumentNullException.ThrowIfNull(shift);
        if (scale.Length == 0 || scale.Length != shift.Length)
            throw new ArgumentException($"ChannelAffine: expected scale and shift of one equal, non-zero length, got {scale.Length} and {shift.Length}.");
        Scale = new Parameter(Tensor.FromArray(scale, scale.Length), ParameterRole.NormWeight);
        Shift = new Parameter(Tensor.FromArray(shift, shift.Length), ParameterRole.NormBias);
    }

    /// <summary>C, the number of channels.</summary>
    public int Channels => Scale.Value.Length;

    /// <summary>The per-channel factor, shape (C).</summary>
    public Parameter Scale { get; }

    /// <summary>The per-channel offset, shape (C).</summary>
    public Parameter Shift { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2 || input.Dim(1) != Channels)
            throw new ArgumentException($"ChannelAffine({Channels}) expected (N, {Channels}) or (N, {Channels}, ...) input, got {input.ShapeString}.", nameof(input));
        var output = Reuse(ref _output, input.Dims);
        int n = input.Dim(0), inner = input.Length / Math.Max(1, n * Channels);
        var x = input.ReadOnlySpan;
        var y = output.Span;
        var scale = Scale.Value.ReadOnlySpan;
        var shift = Shift.Value.ReadOnlySpan;
        // y[n, c, i] = x[n, c, i] * scale[c] + shift[c]
        for (int i = 0; i < n; i++)
            for (int c = 0; c < Channels; c++)
            {
                int start = (i * Channels + c) * inner;
                float a = scale[c], b = shift[c];
                for (int j = start; j < start + inner; j++) y[j] = x[j] * a + b;
            }
        _input = input;
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var input = _input!;
        var gradInput = Reuse(ref _gradInput, input.Dims);
        int n = input.Dim(0), inner = input.Length / Math.Max(1, n * Channels);
        var x = input.ReadOnlySpan;
        var dy = gradOutput.ReadOnlySpan;
        var dx = gradInput.Span;
        var scale = Scale.Value.ReadOnlySpan;
        var dscale = Scale.Grad.Span;
        var dshift = Shift.Grad.Span;
        // dx = dy * scale[c]; dscale[c] += sum dy * x; dshift[c] += sum dy (sums in double)
        for (int c = 0; c < Channels; c++)
        {
            double sumDyX = 0, sumDy = 0;
            float a = scale[c];
            for (int i = 0; i < n; i++)
            {
                int start = (i * Channels + c) * inner;
                for (int j = start; j < start + inner; j++)
                {
                    dx[j] = dy[j] * a;
                    sumDyX += (double)dy[j] * x[j];
                    sumDy += dy[j];
                }
            }
            dscale[c] += (float)sumDyX;
            dshift[c] += (float)sumDy;
        }
        return gradInput;
    }

    /// <inheritdoc />
    protected override IEnumerable<(string Name, Parameter Parameter)> OwnParameters()
    {
        yield return ("scale", Scale);
        yield return ("shift", Shift);
    }
}
