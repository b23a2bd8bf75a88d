namespace NormNet.Training;

/// <summary>One training step's outcome.</summary>
/// <param name="Step">1-based step number.</param>
/// <param name="Epoch">The epoch the batch came from.</param>
/// <param name="Loss">Mean loss of the batch (cross-entropy, or mean squared error for regression).</param>
/// <param name="BatchAccuracy">Fraction of the batch classified correctly (in training mode); for regression, the batch's RMSE.</param>
/// <param name="LearningRate">The learning rate used.</param>
public readonly record struct StepResult(long Step, int Epoch, double Loss, double BatchAccuracy, double LearningRate);

/// <summary>An evaluation of the model in eval mode over a whole data set.</summary>
/// <param name="Step">The training step after which it ran.</param>
/// <param name="Loss">Mean loss: cross-entropy, or mean squared error for regression (NaN or infinite when some outputs
/// were not finite).</param>
/// <param name="Accuracy">Fraction classified correctly, a row with a non-finite output counting as wrong (NaN for regression).</param>
/// <param name="Count">Number of samples.</param>
/// <param name="Confusion">Counts per (true class, predicted class), of the rows whose outputs were finite.</param>
/// <param name="NonFiniteOutputs">Rows whose outputs held a NaN or infinity: a model with any is broken, and its
/// accuracy and loss are not scores to report (see <see cref="OutputsFinite"/>).</param>
public sealed record EvaluationResult(long Step, double Loss, double Accuracy, int Count, long[,] Confusion, int NonFiniteOutputs)
{
    /// <summary>Whether every output was finite, so that <see cref="Accuracy"/> and <see cref="Loss"/> are meaningful.</summary>
    public bool OutputsFinite => NonFiniteOutputs == 0;

    /// <summary>Classification or regression.</summary>
    public Data.TaskKind Task { get; init; } = Data.TaskKind.Classification;

    /// <summary>Root mean squared error over all targets (regression; NaN for classification).</summary>
    public double Rmse { get; init; } = double.NaN;

    /// <summary>The coefficient of determination, 1 - SS_res / SS_tot, averaged over targets (regression; NaN for
    /// classification, and for a target that is constant over the data).</summary>
    public double R2 { get; init; } = double.NaN;
}
