namespace NormNet.Layers;

/// <summary>Zeroes each element with probability p in training mode and scales the rest by 1 / (1 - p), as
/// <c>torch.nn.Dropout</c>; the identity in eval mode.</summary>
/// <remarks>The layer owns a generator (seeded from the one given, or from <see cref="Rng.Default"/>) whose state
/// is saved in training checkpoints, so a resumed run drops exactly the same units.</remarks>
public sealed class Dropout : Module
{
    private Tensor? _input, _output, _gradInput;
    private float[] _mask = [];
    private bool _applied;

    /// <summary>Creates the layer.</summary>
    public Dropout(double p = 0.5, Rng? rng = null)
    {
        if (!(p >= 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1).");
        P = p;
        Generator = new Rng((rng ?? Rng.Default).NextUInt64());
    }

    /// <summary>The probability of zeroing an element.</summary>
    public double P { get; }

    /// <summary>The generator that draws the masks.</summary>
    public Rng Generator { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _input = input;
        _applied = Training && P > 0;
        if (!_applied) return input;
        var output = Reuse(ref _output, input.Dims);
        if (_mask.Length < input.Length) _mask = new float[input.Length]; // sized to the largest batch, reused for smaller ones
        float scale = (float)(1 / (1 - P));
        uint threshold = (uint)Math.Round(P * 4294967296.0);
        var x = input.ReadOnlySpan;
        var y = output.Span;
        // mask = u >= p ? 1 / (1 - p) : 0, two 32-bit uniforms per draw
        for (int i = 0; i < x.Length; i += 2)
        {
            ulong bits = Generator.NextUInt64();
            _mask[i] = (uint)bits >= threshold ? scale : 0f;
            y[i] = x[i] * _mask[i];
            if (i + 1 < x.Length)
            {
                _mask[i + 1] = (uint)(bits >> 32) >= threshold ? scale : 0f;
                y[i + 1] = x[i + 1] * _mask[i + 1];
            }
        }
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        if (!_applied)
        {
            CheckGradient(gradOutput, _input);
            return gradOutput;
        }
        CheckGradient(gradOutput, _output);
        var gradInput = Reuse(ref _gradInput, _input!.Dims);
        var dy = gradOutput.ReadOnlySpan;
        var dx = gradInput.Span;
        for (int i = 0; i < dy.Length; i++) dx[i] = dy[i] * _mask[i];
        return gradInput;
    }

    /// <inheritdoc />
    protected override IEnumerable<(string Name, Rng Generator)> OwnGenerators()
    {
        yield return ("generator", Generator);
    }
}
