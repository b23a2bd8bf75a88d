namespace NormNet.Optim;

/// <summary>A learning rate as a pure function of the step (0-based), so a resumed run needs no schedule state.</summary>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate for step <paramref name="step"/>.</summary>
    public abstract double At(long step);

    /// <summary>Sets the optimizer's learning rate for <paramref name="step"/>.</summary>
    public void Apply(Optimizer optimizer, long step) => optimizer.LearningRate = At(step);
}

/// <summary>A constant learning rate.</summary>
public sealed class ConstantSchedule(double learningRate) : LearningRateSchedule
{
    /// <inheritdoc />
    public override double At(long step) => learningRate;
}

/// <summary>lr * gamma^floor(step / stepSize), as <c>StepLR</c> stepped once per step.</summary>
public sealed class StepSchedule : LearningRateSchedule
{
    private readonly double _lr, _gamma;
    private readonly long _stepSize;

    /// <summary>Creates the schedule.</summary>
    public StepSchedule(double learningRate, long stepSize, double gamma = 0.1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stepSize, 1);
        (_lr, _stepSize, _gamma) = (learningRate, stepSize, gamma);
    }

    /// <inheritdoc />
    public override double At(long step) => _lr * Math.Pow(_gamma, step / _stepSize);
}

/// <summary>Cosine annealing from lr to minLr over totalSteps, as <c>CosineAnnealingLR</c> (held at minLr after).</summary>
public sealed class CosineSchedule : LearningRateSchedule
{
    private readonly double _lr, _min;
    private readonly long _total;

    /// <summary>Creates the schedule.</summary>
    public CosineSchedule(double learningRate, long totalSteps, double minLearningRate = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        (_lr, _total, _min) = (learningRate, totalSteps, minLearningRate);
    }

    /// <inheritdoc />
    public override double At(long step) =>
        _min + (_lr - _min) * (1 + Math.Cos(Math.PI * Math.Min(step, _total) / _total)) / 2;
}

/// <summary>Linear warm-up from lr/warmupSteps to the inner schedule's value over the first steps, then the inner schedule.</summary>
public sealed class WarmupSchedule : LearningRateSchedule
{
    private readonly LearningRateSchedule _inner;
    private readonly long _warmup;

    /// <summary>Creates the schedule.</summary>
    public WarmupSchedule(LearningRateSchedule inner, long warmupSteps)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfLessThan(warmupSteps, 0);
        (_inner, _warmup) = (inner, warmupSteps);
    }

    /// <inheritdoc />
    public override double At(long step) =>
        step < _warmup ? _inner.At(step) * (step + 1) / _warmup : _inner.At(step);
}
