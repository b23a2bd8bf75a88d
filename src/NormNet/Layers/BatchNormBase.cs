using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>
/// Batch normalization (Ioffe and Szegedy, 2015) with PyTorch's semantics; the base of
/// <see cref="BatchNorm1d"/>, <see cref="BatchNorm2d"/> and <see cref="BatchNorm3d"/>.
/// </summary>
/// <remarks>
/// <para>Training mode normalizes with the batch mean and biased batch variance and updates
/// <c>running = (1 - momentum) * running + momentum * batch</c>, using the unbiased variance (n / (n - 1))
/// for <c>running_var</c>; <c>momentum = null</c> gives a cumulative average (factor 1 / num_batches_tracked).
/// Eval mode normalizes with the running statistics, unless <c>trackRunningStats</c> is false, in which
/// case batch statistics are used in both modes.</para>
/// <para>Momentum follows PyTorch: the weight of the new batch. Keras' <c>momentum</c> is the weight of the
/// old value; convert with <see cref="FromKerasMomentum"/> (0.99 in Keras is 0.01 here).</para>
/// <para>Non-finite input: NaN or infinity propagates to the output, as in PyTorch, but a batch whose
/// statistics are not finite (or would round to infinity when stored as float) leaves the running statistics and <see cref="NumBatchesTracked"/> unchanged
/// and increments <see cref="SkippedNonFiniteBatches"/> instead, so one bad batch cannot silently poison
/// every later prediction.</para>
/// <para>Ghost batch norm (Hoffer, Hubara and Soudry, 2017): with <see cref="VirtualBatchSize"/> set, training mode
/// splits each batch into consecutive virtual batches of that many samples and normalizes each with its own
/// statistics, exactly as if the layer were called on each virtual batch in turn: the running statistics are updated
/// once per virtual batch, in order, and <see cref="NumBatchesTracked"/> counts virtual batches. (Keras instead
/// updates once per batch with the average of the virtual batches' moments, so with momentum m and k virtual batches
/// the new batch weighs m there and 1 - (1 - m)^k here, about k * m: divide the momentum by k to match Keras.) Eval mode is ordinary batch norm with the running statistics: virtual batches are never
/// used at inference, nor when <c>trackRunningStats</c> is false and the layer is in eval mode.</para>
/// <para>Frozen (<see cref="Frozen"/>, or <see cref="BatchNormFreezing.Freeze"/> for a whole model): see the property.</para>
/// </remarks>
public abstract partial class BatchNormBase : Module
{
    private readonly TensorBuffer? _runningMean, _runningVar;
    private readonly Int64Buffer? _numBatchesTracked;
    private readonly TensorBuffer? _weightBuffer, _biasBuffer;
    private double[] _mean, _invstd, _variance;
    private Tensor? _input, _output, _gradInput;
    private BatchNormShape _shape;
    private bool _usedBatchStatistics;
    private IBatchStatisticsSync? _usedSync;
    private double? _momentum;
    private int _virtualBatches = 1;

    /// <summary>Creates the layer; the arguments and defaults are PyTorch's.</summary>
    /// <param name="numFeatures">C, the number of channels or features.</param>
    /// <param name="eps">Added to the variance for numerical stability.</param>
    /// <param name="momentum">Weight of the batch statistics in the running averages; null for a cumulative average.</param>
    /// <param name="affine">Whether to learn a per-channel scale (weight, gamma) and shift (bias, beta).</param>
    /// <param name="trackRunningStats">Whether to keep running statistics for eval mode.</param>
    /// <param name="virtualBatchSize">Samples per virtual (ghost) batch in training mode; null (the default) for
    /// ordinary batch norm. The training batch size must be a multiple of it.</param>
    protected BatchNormBase(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats, int? virtualBatchSize = null)
    {
        if (virtualBatchSize is { } vbs) ArgumentOutOfRangeException.ThrowIfLessThan(vbs, 1, nameof(virtualBatchSize));
        VirtualBatchSize = virtualBatchSize;
        ArgumentOutOfRangeException.ThrowIfLessThan(numFeatures, 1);
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be non-negative.");
        if (momentum is { } m && !(m >= 0 && m <= 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1] or null.");
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        Affine = affine;
        TrackRunningStats = trackRunningStats;
        if (affine)
        {
            Weight = new Parameter(Tensor.Full(1f, numFeatures), ParameterRole.NormWeight);
            Bias = new Parameter(Tensor.Zeros(numFeatures), ParameterRole.NormBias);
            _weightBuffer = new TensorBuffer(Weight.Value);
            _biasBuffer = new TensorBuffer(Bias.Value);
        }
        if (trackRunningStats)
        {
            _runningMean = new TensorBuffer(Tensor.Zeros(numFeatures));
            _runningVar = new TensorBuffer(Tensor.Full(1f, numFeatures));
            _numBatchesTracked = new Int64Buffer();
        }
        _mean = new double[numFeatures];
        _invstd = new double[numFeatures];
        _variance = new double[numFeatures];
    }

    /// <summary>C, the number of channels.</summary>
    public int NumFeatures { get; }

    /// <summary>The epsilon added to the variance.</summary>
    public double Eps { get; }

    /// <summary>The running-average momentum (PyTorch convention), or null for a cumulative average.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not in [0, 1] (NaN included).</exception>
    public double? Momentum
    {
        get => _momentum;
        set
        {
            if (value is { } m && !(m >= 0 && m <= 1))
                throw new ArgumentOutOfRangeException(nameof(value), value, $"{GetType().Name}: momentum must be in [0, 1] or null.");
            _momentum = value;
        }
    }

    /// <summary>Whether the layer has <see cref="Weight"/> and <see cref="Bias"/>.</summary>
    public bool Affine { get; }

    /// <summary>Whether the layer keeps running statistics.</summary>
    public bool TrackRunningStats { get; }

    /// <summary>Whether the layer is frozen for fine-tuning: it then computes its eval-mode function (running
    /// statistics, never updated) in training mode too, passes no gradient to its weight and bias, and lists them as
    /// buffers rather than parameters (same state-dict names and order), so an optimizer built afterwards does not
    /// see them, as torchvision's <c>FrozenBatchNorm2d</c> holds them.</summary>
    /// <remarks>Unlike <see cref="Module.Eval"/>, freezing is not undone by <see cref="Module.Train"/> (which a
    /// training loop calls every epoch), concerns only this layer (dropout elsewhere keeps training), and also stops
    /// the affine from learning: eval mode on a batch norm layer alone still lets gamma and beta receive gradients.
    /// Freeze before building the optimizer; one built earlier still holds the parameters (their gradients stay zero).</remarks>
    /// <exception cref="InvalidOperationException">Set to true on a layer without running statistics.</exception>
    public bool Frozen
    {
        get;
        set
        {
            if (value && !TrackRunningStats)
                throw new InvalidOperationException($"{GetType().Name} has trackRunningStats = false: there are no running statistics to freeze it with.");
            field = value;
        }
    }

    /// <summary>Samples per virtual (ghost) batch in training mode, or null for ordinary batch norm.</summary>
    public int? VirtualBatchSize { get; }

    /// <summary>gamma, shape (C); null when not affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>beta, shape (C); null when not affine.</summary>
    public Parameter? Bias { get; }

    /// <summary>Running mean, shape (C); null when not tracking.</summary>
    public Tensor? RunningMean => _runningMean?.Value;

    /// <summary>Running (unbiased) variance, shape (C); null when not tracking.</summary>
    public Tensor? RunningVar => _runningVar?.Value;

    /// <summary>How many training batches have updated the running statistics.</summary>
    public long NumBatchesTracked
    {
        get => _numBatchesTracked?.Value ?? 0;
        set
        {
            if (_numBatchesTracked is null) throw new InvalidOperationException("This layer does not track running statistics.");
            _numBatchesTracked.Value = value;
        }
    }

    /// <summary>Training batches whose statistics were NaN or infinite and so did not update the running statistics.</summary>
    public long SkippedNonFiniteBatches { get; private set; }

    /// <summary>The last training forward's batch mean per channel (double), for experiments and tests; with virtual
    /// batches, C values per virtual batch, in batch order.</summary>
    public ReadOnlySpan<double> BatchMean => _mean.AsSpan(0, _virtualBatches * NumFeatures);

    /// <summary>The last training forward's biased batch variance per channel (per virtual batch, as <see cref="BatchMean"/>).</summary>
    public ReadOnlySpan<double> BatchVariance => _variance.AsSpan(0, _virtualBatches * NumFeatures);

    /// <summary>m, the number of values per channel in the last forward's input (N, N * L, N * H * W, ...), or in one
    /// virtual batch; 0 before the first forward. <c>m / (m - 1)</c> turns <see cref="BatchVariance"/> into the unbiased estimate.</summary>
    public long BatchValuesPerChannel => _shape.PerChannel;

    /// <summary>Converts Keras' momentum (weight of the old running value) to PyTorch's (weight of the batch).</summary>
    public static double FromKerasMomentum(double kerasMomentum) => 1.0 - kerasMomentum;

    /// <summary>Resets the running statistics to mean 0, variance 1 and zero batches tracked.</summary>
    public void ResetRunningStats()
    {
        if (_runningMean is null || _runningVar is null || _numBatchesTracked is null) return;
        _runningMean.Value.Span.Clear();
        _runningVar.Value.Span.Fill(1f);
        _numBatchesTracked.Value = 0;
    }

    /// <summary>Maps an input shape to the kernel's (Outer, Channels, Inner) view; throws on a bad shape.</summary>
    protected abstract BatchNormShape ViewOf(Tensor input);

    /// <summary>Throws unless the input has one of the expected ranks and <see cref="NumFeatures"/> channels on <paramref name="channelAxis"/>.</summary>
    protected void CheckInput(Tensor input, string expected, bool rankOk, int channelAxis)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!rankOk)
            throw new ArgumentException($"{GetType().Name} expected {expected} input, got shape {input.ShapeString}.", nameof(input));
        if (input.Dim(channelAxis) != NumFeatures)
            throw new ArgumentException(
                $"{GetType().Name}({NumFeatures}) expected {NumFeatures} channels on axis {channelAxis} of a {expected} input, got shape {input.ShapeString}.",
                nameof(input));
        if (input.Length == 0 && !(Training && StatisticsSync is not null)) // a synchronized process may hold no rows
            throw new ArgumentException($"{GetType().Name} got an empty input of shape {input.ShapeString}.", nameof(input));
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var shape = ViewOf(input);
        bool training = Training && !Frozen;
        bool useBatch = training || !TrackRunningStats;
        var sync = training ? StatisticsSync : null;
        if (sync is not null && VirtualBatchSize is not null)
            throw new InvalidOperationException($"{GetType().Name}: synchronized batch norm with virtual batches is not supported; use one or the other.");
        int groups = training && sync is null ? VirtualBatchesOf(input) : 1;
        shape = shape with { Outer = shape.Outer / groups }; // one virtual batch: Outer is N or N * H * W, N divisible
        if (useBatch && sync is null && shape.PerChannel <= 1) // batch statistics of one value are meaningless (PyTorch raises in eval too when not tracking)
            throw new ArgumentException(
                $"Expected more than 1 value per channel when training, got input size {input.ShapeString}" +
                (groups > 1 ? $" in virtual batches of {VirtualBatchSize}." : "."), nameof(input));
        var output = Reuse(ref _output, input.Dims);
        ReadOnlySpan<float> gamma = Weight is null ? default : Weight.Value.ReadOnlySpan;
        ReadOnlySpan<float> beta = Bias is null ? default : Bias.Value.ReadOnlySpan;
        if (sync is not null)
        {
            long count = SynchronizedForward(sync, input, shape, gamma, beta, output);
            if (TrackRunningStats) UpdateRunningStatistics(_mean.AsSpan(0, NumFeatures), _variance.AsSpan(0, NumFeatures), count);
        }
        else if (useBatch)
        {
            EnsureStatistics(groups);
            int c = NumFeatures, size = (int)shape.Elements;
            for (int i = 0; i < groups; i++)
            {
                // each virtual batch is a contiguous slice of the input, normalized with its own statistics
                BatchNorm.TrainingForward(input.ReadOnlySpan.Slice(i * size, size), gamma, beta, shape, Eps, output.Span.Slice(i * size, size),
                    _mean.AsSpan(i * c, c), _invstd.AsSpan(i * c, c), _variance.AsSpan(i * c, c));
                if (training && TrackRunningStats) UpdateRunningStatistics(_mean.AsSpan(i * c, c), _variance.AsSpan(i * c, c), shape.PerChannel);
            }
        }
        else
        {
            BatchNorm.InferenceForward(input.ReadOnlySpan, gamma, beta, RunningMean!.ReadOnlySpan, RunningVar!.ReadOnlySpan,
                shape, Eps, output.Span);
        }
        _input = input;
        _shape = shape;
        _usedBatchStatistics = useBatch;
        _virtualBatches = groups;
        _usedSync = sync;
        return output;
    }

    /// <summary>How many virtual batches a training input splits into (1 without <see cref="VirtualBatchSize"/>).</summary>
    private int VirtualBatchesOf(Tensor input)
    {
        if (VirtualBatchSize is not { } v) return 1;
        int n = input.Dim(0);
        if (n % v != 0)
            throw new ArgumentException(
                $"{GetType().Name}: batch size {n} (input {input.ShapeString}) is not a multiple of the virtual batch size {v}.", nameof(input));
        return n / v;
    }

    private void EnsureStatistics(int groups)
    {
        if (_mean.Length >= groups * NumFeatures) return;
        _mean = new double[groups * NumFeatures];
        _invstd = new double[groups * NumFeatures];
        _variance = new double[groups * NumFeatures];
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var input = _input!;
        var gradInput = Reuse(ref _gradInput, input.Dims);
        ReadOnlySpan<float> gamma = Weight is null ? default : Weight.Value.ReadOnlySpan;
        Span<float> dgamma = Weight is null || Frozen ? default : Weight.Grad.Span;
        Span<float> dbeta = Bias is null || Frozen ? default : Bias.Grad.Span;
        if (_usedSync is not null)
            SynchronizedBackward(_usedSync, gradOutput, input, gradInput.Span, gamma, dgamma, dbeta);
        else if (_usedBatchStatistics)
        {
            int c = NumFeatures, size = (int)_shape.Elements;
            // per virtual batch; dgamma and dbeta accumulate over them
            for (int i = 0; i < _virtualBatches; i++)
                BatchNorm.TrainingBackward(gradOutput.ReadOnlySpan.Slice(i * size, size), input.ReadOnlySpan.Slice(i * size, size), gamma,
                    _mean.AsSpan(i * c, c), _invstd.AsSpan(i * c, c), _shape, gradInput.Span.Slice(i * size, size), dgamma, dbeta);
        }
        else
            BatchNorm.InferenceBackward(gradOutput.ReadOnlySpan, input.ReadOnlySpan, gamma, RunningMean!.ReadOnlySpan,
                RunningVar!.ReadOnlySpan, _shape, Eps, gradInput.Span, dgamma, dbeta);
        return gradInput;
    }

    private void UpdateRunningStatistics(ReadOnlySpan<double> mean, ReadOnlySpan<double> variance, long n)
    {
        // The check is on the values that would be stored (a finite variance of 1e40 times n / (n - 1), or the
        // momentum update of a huge running value, can still round to infinity in float), so first a dry run.
        long tracked = _numBatchesTracked!.Value + 1;
        double factor = Momentum ?? 1.0 / tracked;
        double unbias = (double)n / (n - 1);
        var rm = _runningMean!.Value.Span;
        var rv = _runningVar!.Value.Span;
        for (int c = 0; c < NumFeatures; c++)
        {
            if (!float.IsFinite(NewMean(rm[c], mean[c], factor)) || !float.IsFinite(NewVariance(rv[c], variance[c], factor, unbias)))
            {
                SkippedNonFiniteBatches++;
                return;
            }
        }
        _numBatchesTracked.Value = tracked;
        for (int c = 0; c < NumFeatures; c++)
        {
            rm[c] = NewMean(rm[c], mean[c], factor);
            rv[c] = NewVariance(rv[c], variance[c], factor, unbias);
        }
    }

    // running_mean = (1 - factor) * running_mean + factor * batch_mean, rounded to float as stored
    private static float NewMean(float running, double mean, double factor) => (float)((1 - factor) * running + factor * mean);

    // running_var = (1 - factor) * running_var + factor * batch_var * n / (n - 1), rounded to float as stored
    private static float NewVariance(float running, double variance, double factor, double unbias) =>
        (float)((1 - factor) * running + factor * variance * unbias);

    /// <inheritdoc />
    protected override IEnumerable<(string Name, Parameter Parameter)> OwnParameters()
    {
        if (Frozen) yield break;
        if (Weight is not null) yield return ("weight", Weight);
        if (Bias is not null) yield return ("bias", Bias);
    }

    /// <inheritdoc />
    protected override IEnumerable<(string Name, Buffer Buffer)> OwnBuffers()
    {
        if (Frozen && _weightBuffer is not null) yield return ("weight", _weightBuffer);
        if (Frozen && _biasBuffer is not null) yield return ("bias", _biasBuffer);
        if (_runningMean is not null) yield return ("running_mean", _runningMean);
        if (_runningVar is not null) yield return ("running_var", _runningVar);
        if (_numBatchesTracked is not null) yield return ("num_batches_tracked", _numBatchesTracked);
    }
}
