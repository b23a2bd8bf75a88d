using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>
/// Instance normalization (Ulyanov, Vedaldi and Lempitsky, 2016) with PyTorch's semantics; the base of
/// <see cref="InstanceNorm1d"/> and <see cref="InstanceNorm2d"/>. Each channel of each sample is normalized over its
/// spatial values with its own mean and biased variance.
/// </summary>
/// <remarks>
/// <para>PyTorch's defaults differ from batch norm's: <c>affine = false</c> and <c>trackRunningStats = false</c>, so by
/// default the layer has no state and computes the same function in training and eval mode.</para>
/// <para>With <c>trackRunningStats</c>, training updates <c>running = (1 - momentum) * running + momentum * batch</c>
/// where "batch" is the average over the samples of each instance's mean and unbiased variance (S / (S - 1)), as
/// PyTorch does; eval mode then normalizes with the running statistics like an eval-mode batch norm.
/// <c>num_batches_tracked</c> is kept for state-dict compatibility and, as in PyTorch, never incremented.</para>
/// <para>Unbatched input ((C, L) for 1d, (C, H, W) for 2d) is taken as a batch of one. Unlike PyTorch, which only
/// warns when affine = false, a channel count different from <see cref="NumFeatures"/> is an error.</para>
/// </remarks>
public abstract class InstanceNormBase : Module
{
    private readonly TensorBuffer? _runningMean, _runningVar;
    private readonly Int64Buffer? _numBatchesTracked;
    private double[] _mean = [], _invstd = [], _variance = [];
    private Tensor? _input, _output, _gradInput;
    private BatchNormShape _shape;
    private bool _usedInputStatistics;

    /// <summary>Creates the layer; the arguments and defaults are PyTorch's.</summary>
    /// <param name="numFeatures">C, the number of channels.</param>
    /// <param name="eps">Added to the variance for numerical stability.</param>
    /// <param name="momentum">Weight of the batch statistics in the running averages.</param>
    /// <param name="affine">Whether to learn a per-channel scale (weight) and shift (bias).</param>
    /// <param name="trackRunningStats">Whether to keep running statistics, which eval mode then uses.</param>
    protected InstanceNormBase(int numFeatures, double eps, double momentum, bool affine, bool trackRunningStats)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numFeatures, 1);
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be non-negative.");
        if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1].");
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        Affine = affine;
        TrackRunningStats = trackRunningStats;
        if (affine)
        {
            Weight = new Parameter(Tensor.Full(1f, numFeatures), ParameterRole.NormWeight);
            Bias = new Parameter(Tensor.Zeros(numFeatures), ParameterRole.NormBias);
        }
        if (trackRunningStats)
        {
            _runningMean = new TensorBuffer(Tensor.Zeros(numFeatures));
            _runningVar = new TensorBuffer(Tensor.Full(1f, numFeatures));
            _numBatchesTracked = new Int64Buffer();
        }
    }

    /// <summary>C, the number of channels.</summary>
    public int NumFeatures { get; }

    /// <summary>The epsilon added to the variance.</summary>
    public double Eps { get; }

    /// <summary>The running-average momentum (PyTorch convention: the weight of the new batch).</summary>
    public double Momentum { get; set; }

    /// <summary>Whether the layer has <see cref="Weight"/> and <see cref="Bias"/>.</summary>
    public bool Affine { get; }

    /// <summary>Whether the layer keeps running statistics (and uses them in eval mode).</summary>
    public bool TrackRunningStats { get; }

    /// <summary>gamma, shape (C); null when not affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>beta, shape (C); null when not affine.</summary>
    public Parameter? Bias { get; }

    /// <summary>Running mean, shape (C); null when not tracking.</summary>
    public Tensor? RunningMean => _runningMean?.Value;

    /// <summary>Running (unbiased) variance, shape (C); null when not tracking.</summary>
    public Tensor? RunningVar => _runningVar?.Value;

    /// <summary>The input's (N, C, S) view: N = 1 for unbatched input, S the product of the spatial dimensions.</summary>
    protected abstract BatchNormShape ViewOf(Tensor input);

    /// <summary>Throws unless the input has a batched or unbatched rank and <see cref="NumFeatures"/> channels.</summary>
    protected BatchNormShape CheckInput(Tensor input, int batchedRank, string layout)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != batchedRank && input.Rank != batchedRank - 1)
            throw new ArgumentException(
                $"{GetType().Name} expected {batchedRank}D (N, {layout}) or {batchedRank - 1}D ({layout}) input, got shape {input.ShapeString}.", nameof(input));
        bool batched = input.Rank == batchedRank;
        int channelAxis = batched ? 1 : 0;
        if (input.Dim(channelAxis) != NumFeatures)
            throw new ArgumentException(
                $"{GetType().Name}({NumFeatures}) expected {NumFeatures} channels on axis {channelAxis}, got shape {input.ShapeString}.", nameof(input));
        if (input.Length == 0)
            throw new ArgumentException($"{GetType().Name} got an empty input of shape {input.ShapeString}.", nameof(input));
        int n = batched ? input.Dim(0) : 1;
        return new BatchNormShape(n, NumFeatures, input.Length / (n * NumFeatures));
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var shape = ViewOf(input);
        bool useInput = Training || !TrackRunningStats;
        var output = Reuse(ref _output, input.Dims);
        ReadOnlySpan<float> gamma = Weight is null ? default : Weight.Value.ReadOnlySpan;
        ReadOnlySpan<float> beta = Bias is null ? default : Bias.Value.ReadOnlySpan;
        if (useInput)
        {
            if (shape.Inner <= 1)
                throw new ArgumentException($"{GetType().Name}: expected more than 1 spatial element when training, got input size {input.ShapeString}.", nameof(input));
            int rows = shape.Outer * shape.Channels;
            if (_mean.Length != rows)
            {
                _mean = new double[rows];
                _invstd = new double[rows];
                _variance = new double[rows];
            }
            SampleNorm.Forward(input.ReadOnlySpan, gamma, beta, RowsOf(shape), Eps, output.Span, _mean, _invstd, _variance);
            if (Training && TrackRunningStats) UpdateRunningStatistics(shape);
        }
        else
        {
            BatchNorm.InferenceForward(input.ReadOnlySpan, gamma, beta, RunningMean!.ReadOnlySpan, RunningVar!.ReadOnlySpan, shape, Eps, output.Span);
        }
        _input = input;
        _shape = shape;
        _usedInputStatistics = useInput;
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var input = _input!;
        var gradInput = Reuse(ref _gradInput, input.Dims);
        ReadOnlySpan<float> gamma = Weight is null ? default : Weight.Value.ReadOnlySpan;
        Span<float> dgamma = Weight is null ? default : Weight.Grad.Span;
        Span<float> dbeta = Bias is null ? default : Bias.Grad.Span;
        if (_usedInputStatistics)
            SampleNorm.Backward(gradOutput.ReadOnlySpan, input.ReadOnlySpan, gamma, _mean, _invstd, RowsOf(_shape), gradInput.Span, dgamma, dbeta);
        else
            BatchNorm.InferenceBackward(gradOutput.ReadOnlySpan, input.ReadOnlySpan, gamma, RunningMean!.ReadOnlySpan,
                RunningVar!.ReadOnlySpan, _shape, Eps, gradInput.Span, dgamma, dbeta);
        return gradInput;
    }

    /// <summary>(N, C, S) as per-sample rows: one group per channel.</summary>
    private static SampleNormShape RowsOf(BatchNormShape shape) => new(shape.Outer, shape.Channels, 1, shape.Inner);

    /// <summary>running = (1 - momentum) * running + momentum * mean over samples of each instance's statistic.</summary>
    private void UpdateRunningStatistics(BatchNormShape shape)
    {
        double unbias = (double)shape.Inner / (shape.Inner - 1);
        var rm = _runningMean!.Value.Span;
        var rv = _runningVar!.Value.Span;
        for (int c = 0; c < NumFeatures; c++)
        {
            double mean = 0, variance = 0;
            for (int n = 0; n < shape.Outer; n++)
            {
                mean += _mean[n * NumFeatures + c];
                variance += _variance[n * NumFeatures + c] * unbias;
            }
            rm[c] = (float)((1 - Momentum) * rm[c] + Momentum * (mean / shape.Outer));
            rv[c] = (float)((1 - Momentum) * rv[c] + Momentum * (variance / shape.Outer));
        }
    }

    /// <inheritdoc />
    protected override IEnumerable<(string Name, Parameter Parameter)> OwnParameters()
    {
        if (Weight is not null) yield return ("weight", Weight);
        if (Bias is not null) yield return ("bias", Bias);
    }

    /// <inheritdoc />
    protected override IEnumerable<(string Name, Buffer Buffer)> OwnBuffers()
    {
        if (_runningMean is not null) yield return ("running_mean", _runningMean);
        if (_runningVar is not null) yield return ("running_var", _runningVar);
        if (_numBatchesTracked is not null) yield return ("num_batches_tracked", _numBatchesTracked);
    }
}
