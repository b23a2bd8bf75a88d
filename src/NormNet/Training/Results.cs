namespace NormNet.Training;

/// <summary>One training step's outcome.</summary>
/// <param name="Step">1-based step number.</param>
/// <param name="Epoch">The epoch the batch came from.</param>
/// <param name="Loss">Mean cross-entropy of the batch.</param>
/// <param name="BatchAccuracy">Fraction of the batch classified correctly (in training mode).</param>
/// <param name="LearningRate">The learning rate used.</param>
public readonly record struct StepResult(long Step, int Epoch, double Loss, double BatchAccuracy, double LearningRate);

/// <summary>An evaluation of the model in eval mode over a whole data set.</summary>
/// <param name="Step">The training step after which it ran.</param>
/// <param name="Loss">Mean cross-entropy.</param>
/// <param name="Accuracy">Fraction classified correctly.</param>
/// <param name="Count">Number of samples.</param>
/// <param name="Confusion">Counts per (true class, predicted class).</param>
public sealed record EvaluationResult(long Step, double Loss, double Accuracy, int Count, long[,] Confusion);
