using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>A fully connected layer y = x W^T + b, as <c>torch.nn.Linear</c>; input (N, in), output (N, out).</summary>
/// <remarks>Weights start Kaiming-uniform and the bias U(-1/sqrt(in), 1/sqrt(in)), PyTorch's defaults, drawn
/// from <c>rng</c> (or <see cref="Rng.Default"/>); use <see cref="Init"/> for others.</remarks>
public sealed class Linear : Module
{
    private Tensor? _input, _output, _gradInput, _zeros;

    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, Rng? rng = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inFeatures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outFeatures, 1);
        rng ??= Rng.Default;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = new Parameter(Tensor.Zeros(outFeatures, inFeatures), ParameterRole.Weight);
        Init.KaimingUniform(Weight.Value, inFeatures, rng);
        if (bias)
        {
            Bias = new Parameter(Tensor.Zeros(outFeatures), ParameterRole.Bias);
            Init.DefaultBias(Bias.Value, inFeatures, rng);
        }
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>W, shape (out, in).</summary>
    public Parameter Weight { get; }

    /// <summary>b, shape (out); null without bias.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        int n = LinearProduct.BatchOf("Linear", InFeatures, OutFeatures, input);
        var output = Reuse(ref _output, [n, OutFeatures]);
        LinearProduct.Forward(input.ReadOnlySpan, n, InFeatures, OutFeatures, Weight.Value.ReadOnlySpan, storedAsW: true,
            Bias is null ? default : Bias.Value.ReadOnlySpan, output.Span);
        _input = input;
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var input = _input!;
        int n = input.Dim(0);
        // dW += dy^T x ; db += sum over rows of dy ; dx = dy W
        Gemm.Sgemm(true, false, OutFeatures, InFeatures, n, 1f, gradOutput.ReadOnlySpan, OutFeatures,
            input.ReadOnlySpan, InFeatures, 1f, Weight.Grad.Span, InFeatures);
        if (Bias is not null) Reductions.AddColumnSums(gradOutput.ReadOnlySpan, n, OutFeatures, Bias.Grad.Span);
        if (!RequiresInputGradient) return Zeros(ref _zeros, input.Dims);
        var gradInput = Reuse(ref _gradInput, input.Dims);
        Gemm.Sgemm(false, false, n, InFeatures, OutFeatures, 1f, gradOutput.ReadOnlySpan, OutFeatures,
            Weight.Value.ReadOnlySpan, InFeatures, 0f, gradInput.Span, InFeatures);
        return gradInput;
    }

    /// <inheritdoc />
    protected override IEnumerable<(string Name, Parameter Parameter)> OwnParameters()
    {
        yield return ("weight", Weight);
        if (Bias is not null) yield return ("bias", Bias);
    }
}
