using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>
/// Batch norm with fixed statistics and affine over (N, C, H, W) input, as torchvision's
/// <c>torchvision.ops.FrozenBatchNorm2d</c>: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias in
/// both training and eval mode, nothing updated and no gradient for weight or bias.
/// </summary>
/// <remarks>
/// <para>All four tensors are buffers (state names <c>weight</c>, <c>bias</c>, <c>running_mean</c>,
/// <c>running_var</c>; no <c>num_batches_tracked</c>), so torchvision checkpoints load directly and optimizers see no
/// parameter. The input gradient is dy * weight / sqrt(running_var + eps).</para>
/// <para>To freeze the batch norm layers of an existing model in place instead, use <see cref="BatchNormFreezing.Freeze"/>.</para>
/// </remarks>
public sealed class FrozenBatchNorm2d : Module
{
    private readonly TensorBuffer _weight, _bias, _runningMean, _runningVar;
    private Tensor? _input, _output, _gradInput;
    private BatchNormShape _shape;

    /// <summary>Creates the identity (weight 1, bias 0, mean 0, variance 1), as torchvision does.</summary>
    /// <param name="numFeatures">C, the number of channels.</param>
    /// <param name="eps">Added to the variance (torchvision's default 1e-5).</param>
    public FrozenBatchNorm2d(int numFeatures, double eps = 1e-5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numFeatures, 1);
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be non-negative.");
        NumFeatures = numFeatures;
        Eps = eps;
        _weight = new TensorBuffer(Tensor.Full(1f, numFeatures));
        _bias = new TensorBuffer(Tensor.Zeros(numFeatures));
        _runningMean = new TensorBuffer(Tensor.Zeros(numFeatures));
        _runningVar = new TensorBuffer(Tensor.Full(1f, numFeatures));
    }

    /// <summary>A frozen copy of a (channels-first, tracking) batch norm layer's statistics and affine.</summary>
    /// <exception cref="ArgumentException">The layer has no running statistics, or is channels-last.</exception>
    public static FrozenBatchNorm2d From(BatchNormBase bn)
    {
        ArgumentNullException.ThrowIfNull(bn);
        if (!bn.TrackRunningStats || bn is BatchNorm2d { MemoryFormat: MemoryFormat.ChannelsLast })
            throw new ArgumentException($"FrozenBatchNorm2d.From needs a channels-first batch norm with running statistics, got {bn.GetType().Name}.", nameof(bn));
        var frozen = new FrozenBatchNorm2d(bn.NumFeatures, bn.Eps);
        if (bn.Weight is not null) frozen.Weight.CopyFrom(bn.Weight.Value);
        if (bn.Bias is not null) frozen.Bias.CopyFrom(bn.Bias.Value);
        frozen.RunningMean.CopyFrom(bn.RunningMean!);
        frozen.RunningVar.CopyFrom(bn.RunningVar!);
        return frozen;
    }

    /// <summary>C, the number of channels.</summary>
    public int NumFeatures { get; }

    /// <summary>The epsilon added to the variance.</summary>
    public double Eps { get; }

    /// <summary>gamma, shape (C), a buffer.</summary>
    public Tensor Weight => _weight.Value;

    /// <summary>beta, shape (C), a buffer.</summary>
    public Tensor Bias => _bias.Value;

    /// <summary>The fixed mean, shape (C).</summary>
    public Tensor RunningMean => _runningMean.Value;

    /// <summary>The fixed variance, shape (C).</summary>
    public Tensor RunningVar => _runningVar.Value;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4 || input.Dim(1) != NumFeatures)
            throw new ArgumentException($"FrozenBatchNorm2d({NumFeatures}) expected 4D (N, {NumFeatures}, H, W) input, got shape {input.ShapeString}.", nameof(input));
        _shape = new BatchNormShape(input.Dim(0), NumFeatures, input.Dim(2) * input.Dim(3));
        var output = Reuse(ref _output, input.Dims);
        // y = x * alpha + shift, alpha = weight / sqrt(running_var + eps), shift = bias - running_mean * alpha
        BatchNorm.InferenceForward(input.ReadOnlySpan, Weight.ReadOnlySpan, Bias.ReadOnlySpan, RunningMean.ReadOnlySpan,
            RunningVar.ReadOnlySpan, _shape, Eps, output.Span);
        _input = input;
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var gradInput = Reuse(ref _gradInput, _input!.Dims);
        // dx = dy * alpha; no parameter gradients
        BatchNorm.InferenceBackward(gradOutput.ReadOnlySpan, _input.ReadOnlySpan, Weight.ReadOnlySpan, RunningMean.ReadOnlySpan,
            RunningVar.ReadOnlySpan, _shape, Eps, gradInput.Span, default, default);
        return gradInput;
    }

    /// <inheritdoc />
    protected override IEnumerable<(string Name, Buffer Buffer)> OwnBuffers()
    {
        yield return ("weight", _weight);
        yield return ("bias", _bias);
        yield return ("running_mean", _runningMean);
        yield return ("running_var", _runningVar);
    }
}
