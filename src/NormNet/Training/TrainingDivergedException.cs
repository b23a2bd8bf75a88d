namespace NormNet.Training;

/// <summary>Thrown when the training loss becomes NaN or infinite.</summary>
public sealed class TrainingDivergedException(long step, double loss)
    : Exception($"Training diverged: the loss became {loss} at step {step} (try a smaller learning rate).")
{
    /// <summary>The 1-based step whose loss was not finite.</summary>
    public long Step { get; } = step;

    /// <summary>The loss value (NaN or infinity).</summary>
    public double Loss { get; } = loss;
}
