using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>
/// Batch renormalization (Ioffe, 2017); the base of <see cref="BatchRenorm1d"/> and <see cref="BatchRenorm2d"/>.
/// Training normalizes with the batch statistics and then corrects towards the moving averages:
/// y = gamma * ((x - mu_B) / sigma_B * r + d) + beta with r = clip(sigma_B / sigma, 1/rMax, rMax) and
/// d = clip((mu_B - mu) / sigma, -dMax, dMax), both treated as constants in backward. Eval normalizes with the moving
/// averages, y = gamma * (x - mu) / sigma + beta, so training and inference agree once r and d are inside their limits.
/// </summary>
/// <remarks>
/// <para>Moving averages as in the paper's Algorithm 1: mu += momentum * (mu_B - mu) and, for the standard deviation
/// sigma_B = sqrt(var_B + eps) (biased variance), sigma += momentum * (sigma_B - sigma). The buffers keep PyTorch's
/// batch norm names: <c>running_mean</c> is mu, and <c>running_var</c> holds sigma^2 - eps, so that
/// sqrt(running_var + eps) = sigma and eval mode, folding and ONNX export are exactly batch norm's. This differs from
/// batch norm, which averages the unbiased variance: with rMax = 1 and dMax = 0 outputs and gradients equal batch
/// norm's bit for bit, and running_mean too, but running_var does not.</para>
/// <para>rMax and dMax are fixed (<see cref="RMax"/>, <see cref="DMax"/>) or follow a <see cref="BatchRenormSchedule"/>
/// over the training steps counted by <c>num_batches_tracked</c>.</para>
/// </remarks>
public abstract class BatchRenormBase : Module
{
    private readonly TensorBuffer _runningMean, _runningVar;
    private readonly Int64Buffer _numBatchesTracked = new();
    private readonly double[] _mean, _invstd, _variance, _r, _d;
    private readonly float[] _scale, _shift, _gammaR, _dgamma, _dbeta;
    private Tensor? _input, _output, _gradInput;
    private BatchNormShape _shape;
    private bool _usedBatchStatistics;

    /// <summary>Creates the layer.</summary>
    /// <param name="numFeatures">C, the number of channels or features.</param>
    /// <param name="eps">Added to the variance for numerical stability.</param>
    /// <param name="momentum">The paper's alpha: the weight of the batch statistics in the moving averages.</param>
    /// <param name="affine">Whether to learn a per-channel scale (weight) and shift (bias).</param>
    /// <param name="rMax">The upper clip of r (at least 1); ignored with a schedule.</param>
    /// <param name="dMax">The clip of |d| (at least 0); ignored with a schedule.</param>
    /// <param name="schedule">Ramps rMax and dMax over training steps instead (e.g. <see cref="BatchRenormSchedule.Paper"/>).</param>
    protected BatchRenormBase(int numFeatures, double eps, double momentum, bool affine, double rMax, double dMax, BatchRenormSchedule? schedule)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numFeatures, 1);
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be positive.");
        if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1].");
        if (!(rMax >= 1)) throw new ArgumentOutOfRangeException(nameof(rMax), rMax, "rMax must be at least 1.");
        if (!(dMax >= 0)) throw new ArgumentOutOfRangeException(nameof(dMax), dMax, "dMax must be non-negative.");
        schedule?.At(0); // validates
        (NumFeatures, Eps, Momentum, Affine, RMax, DMax, Schedule) = (numFeatures, eps, momentum, affine, rMax, dMax, schedule);
        if (affine)
        {
            Weight = new Parameter(Tensor.Full(1f, numFeatures), ParameterRole.NormWeight);
            Bias = new Parameter(Tensor.Zeros(numFeatures), ParameterRole.NormBias);
        }
        _runningMean = new TensorBuffer(Tensor.Zeros(numFeatures));
        _runningVar = new TensorBuffer(Tensor.Full(1f, numFeatures));
        (_mean, _invstd, _variance, _r, _d) = (new double[numFeatures], new double[numFeatures], new double[numFeatures], new double[numFeatures], new double[numFeatures]);
        (_scale, _shift, _gammaR, _dgamma, _dbeta) = (new float[numFeatures], new float[numFeatures], new float[numFeatures], new float[numFeatures], new float[numFeatures]);
    }

    /// <summary>C, the number of channels.</summary>
    public int NumFeatures { get; }

    /// <summary>The epsilon added to the variance.</summary>
    public double Eps { get; }

    /// <summary>The paper's alpha, the weight of the batch in the moving averages.</summary>
    public double Momentum { get; }

    /// <summary>Whether the layer has <see cref="Weight"/> and <see cref="Bias"/>.</summary>
    public bool Affine { get; }

    /// <summary>The fixed rMax (used when there is no <see cref="Schedule"/>).</summary>
    public double RMax { get; }

    /// <summary>The fixed dMax (used when there is no <see cref="Schedule"/>).</summary>
    public double DMax { get; }

    /// <summary>The ramp of rMax and dMax over training steps, or null for the fixed limits.</summary>
    public BatchRenormSchedule? Schedule { get; }

    /// <summary>gamma, shape (C); null when not affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>beta, shape (C); null when not affine.</summary>
    public Parameter? Bias { get; }

    /// <summary>mu, the moving mean, shape (C).</summary>
    public Tensor RunningMean => _runningMean.Value;

    /// <summary>sigma^2 - eps for the moving standard deviation sigma, shape (C) (see the remarks).</summary>
    public Tensor RunningVar => _runningVar.Value;

    /// <summary>Training steps so far (the schedule's clock).</summary>
    public long NumBatchesTracked
    {
        get => _numBatchesTracked.Value;
        set => _numBatchesTracked.Value = value;
    }

    /// <summary>The (rMax, dMax) the next training forward uses.</summary>
    public (double RMax, double DMax) CurrentLimits => Schedule?.At(NumBatchesTracked) ?? (RMax, DMax);

    /// <summary>The last training forward's r per channel.</summary>
    public ReadOnlySpan<double> R => _r;

    /// <summary>The last training forward's d per channel.</summary>
    public ReadOnlySpan<double> D => _d;

    /// <summary>The input's (Outer, C, Inner) view; throws on a bad shape.</summary>
    protected abstract BatchNormShape ViewOf(Tensor input);

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var shape = ViewOf(input);
        if (Training && shape.PerChannel <= 1)
            throw new ArgumentException($"Expected more than 1 value per channel when training, got input size {input.ShapeString}.", nameof(input));
        var output = Reuse(ref _output, input.Dims);
        ReadOnlySpan<float> gamma = Weight is null ? default : Weight.Value.ReadOnlySpan;
        ReadOnlySpan<float> beta = Bias is null ? default : Bias.Value.ReadOnlySpan;
        if (Training)
        {
            BatchNorm.TrainingForward(input.ReadOnlySpan, gamma, beta, shape, Eps, output.Span, _mean, _invstd, _variance);
            var (rMax, dMax) = CurrentLimits;
            if (BatchRenorm.Corrections(_mean, _invstd, RunningMean.ReadOnlySpan, RunningVar.ReadOnlySpan, Eps, rMax, dMax, _r, _d))
            {
                // y = r * y_BN + (gamma * d + beta - r * beta)
                for (int c = 0; c < NumFeatures; c++)
                {
                    double g = gamma.IsEmpty ? 1 : gamma[c], b = beta.IsEmpty ? 0 : beta[c];
                    _scale[c] = (float)_r[c];
                    _shift[c] = (float)(g * _d[c] + b - _r[c] * b);
                }
                BatchRenorm.Rescale(output.Span, shape, _scale, _shift);
            }
            UpdateMovingAverages();
        }
        else
        {
            BatchNorm.InferenceForward(input.ReadOnlySpan, gamma, beta, RunningMean.ReadOnlySpan, RunningVar.ReadOnlySpan, shape, Eps, output.Span);
        }
        (_input, _shape, _usedBatchStatistics) = (input, shape, Training);
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var input = _input!;
        var gradInput = Reuse(ref _gradInput, input.Dims);
        ReadOnlySpan<float> gamma = Weight is null ? default : Weight.Value.ReadOnlySpan;
        if (!_usedBatchStatistics)
        {
            BatchNorm.InferenceBackward(gradOutput.ReadOnlySpan, input.ReadOnlySpan, gamma, RunningMean.ReadOnlySpan, RunningVar.ReadOnlySpan,
                _shape, Eps, gradInput.Span, Weight is null ? default : Weight.Grad.Span, Bias is null ? default : Bias.Grad.Span);
            return gradInput;
        }
        // r, d constant: dx is batch norm's with gamma * r; dgamma = r * sum(dy * xhat_B) + d * sum(dy); dbeta = sum(dy)
        for (int c = 0; c < NumFeatures; c++) _gammaR[c] = (float)((gamma.IsEmpty ? 1 : gamma[c]) * _r[c]);
        Array.Clear(_dgamma);
        Array.Clear(_dbeta);
        BatchNorm.TrainingBackward(gradOutput.ReadOnlySpan, input.ReadOnlySpan, _gammaR, _mean, _invstd, _shape, gradInput.Span, _dgamma, _dbeta);
        if (Weight is null || Bias is null) return gradInput;
        var dweight = Weight.Grad.Span;
        var dbias = Bias.Grad.Span;
        for (int c = 0; c < NumFeatures; c++)
        {
            dweight[c] += (float)(_r[c] * _dgamma[c] + _d[c] * _dbeta[c]);
            dbias[c] += _dbeta[c];
        }
        return gradInput;
    }

    /// <summary>mu += alpha * (mu_B - mu); sigma += alpha * (sigma_B - sigma), stored as running_var = sigma^2 - eps.
    /// A batch with non-finite statistics leaves them (and the step count) unchanged.</summary>
    private void UpdateMovingAverages()
    {
        for (int c = 0; c < NumFeatures; c++)
            if (!double.IsFinite(_mean[c]) || !double.IsFinite(_invstd[c])) return;
        var rm = RunningMean.Span;
        var rv = RunningVar.Span;
        for (int c = 0; c < NumFeatures; c++)
        {
            double sigma = Math.Sqrt(rv[c] + Eps), sigmaB = 1.0 / _invstd[c];
            sigma += Momentum * (sigmaB - sigma);
            rm[c] = (float)(rm[c] + Momentum * (_mean[c] - rm[c]));
            rv[c] = (float)(sigma * sigma - Eps);
        }
        _numBatchesTracked.Value++;
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
        yield return ("running_mean", _runningMean);
        yield return ("running_var", _runningVar);
        yield return ("num_batches_tracked", _numBatchesTracked);
    }
}
