using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>A fully connected layer frozen for inference: y = x W^T + b, as <see cref="Linear"/>, with W kept
/// transposed, (in, out), so that the product reads it in place instead of repacking it on every call.</summary>
/// <remarks>
/// <para>Linear's forward multiplies by W^T with W stored (out, in), so the matrix product transposes W into its
/// panels on every call; for a few rows that transpose is most of the time (measured, one thread: a batch-1 product
/// 1 x 3136 by W^T 3136 x 128 took 0.120 ms with W, 0.048 ms with W^T in place; no difference from 64 rows on).
/// The products differ only in where they read W from, so this layer gives exactly the bits of the Linear it was
/// made from, in both directions.</para>
/// <para>Its tensors are buffers (state names <c>weight_t</c>, shape (in, out), and <c>bias</c>), so optimizers see no
/// parameter, as for <see cref="FrozenBatchNorm2d"/>; the backward gives the input gradient only.
/// <see cref="Deployment.InferenceModel.Create"/> builds these from a model's Linear layers.</para>
/// </remarks>
public sealed class FrozenLinear : Module
{
    private readonly TensorBuffer _weightT;
    private readonly TensorBuffer? _bias;
    private Tensor? _input, _output, _gradInput, _zeros;

    /// <summary>A frozen copy of <paramref name="linear"/>'s weight (transposed) and bias.</summary>
    public FrozenLinear(Linear linear)
    {
        ArgumentNullException.ThrowIfNull(linear);
        (InFeatures, OutFeatures) = (linear.InFeatures, linear.OutFeatures);
        _weightT = new TensorBuffer(Tensor.Zeros(InFeatures, OutFeatures));
        var w = linear.Weight.Value.ReadOnlySpan;
        var t = _weightT.Value.Span;
        // W^T[i, j] = W[j, i]
        for (int j = 0; j < OutFeatures; j++)
            for (int i = 0; i < InFeatures; i++) t[i * OutFeatures + j] = w[j * InFeatures + i];
        _bias = linear.Bias is null ? null : new TensorBuffer(linear.Bias.Value.Clone());
    }

    private FrozenLinear(FrozenLinear source)
    {
        (InFeatures, OutFeatures) = (source.InFeatures, source.OutFeatures);
        _weightT = new TensorBuffer(source.WeightTransposed.Clone());
        _bias = source.Bias is null ? null : new TensorBuffer(source.Bias.Clone());
    }

    /// <summary>A copy with its own tensors (for folding, which copies every layer it keeps).</summary>
    internal FrozenLinear Copy() => new(this);

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>W^T, shape (in, out), a buffer.</summary>
    public Tensor WeightTransposed => _weightT.Value;

    /// <summary>b, shape (out), a buffer; null without bias.</summary>
    public Tensor? Bias => _bias?.Value;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        int n = LinearProduct.BatchOf("FrozenLinear", InFeatures, OutFeatures, input);
        var output = Reuse(ref _output, [n, OutFeatures]);
        // W^T (in, out) read as it is stored
        LinearProduct.Forward(input.ReadOnlySpan, n, InFeatures, OutFeatures, WeightTransposed.ReadOnlySpan, storedAsW: false,
            Bias is null ? default : Bias.ReadOnlySpan, output.Span);
        _input = input;
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var input = _input!;
        if (!RequiresInputGradient) return Zeros(ref _zeros, input.Dims);
        // dx = dy W = dy (W^T)^T
        var gradInput = Reuse(ref _gradInput, input.Dims);
        Gemm.Sgemm(false, true, input.Dim(0), InFeatures, OutFeatures, 1f, gradOutput.ReadOnlySpan, OutFeatures,
            WeightTransposed.ReadOnlySpan, OutFeatures, 0f, gradInput.Span, InFeatures);
        return gradInput;
    }

    /// <inheritdoc />
    protected override IEnumerable<(string Name, Buffer Buffer)> OwnBuffers()
    {
        yield return ("weight_t", _weightT);
        if (_bias is not null) yield return ("bias", _bias);
    }
}
