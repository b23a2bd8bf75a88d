using NormNet.Data;
using NormNet.Losses;

namespace NormNet.Training;

/// <summary>What a network is trained for: the loss it minimizes and the metrics it is judged by, chosen by the data's
/// task (<see cref="For"/>): cross-entropy and accuracy for classes, mean squared error and RMSE/R^2 for regression.</summary>
/// <remarks>An objective keeps what its <see cref="Backward"/> needs from the last <see cref="Forward"/>, as a loss
/// module does, and allocates nothing per batch once it has seen a batch size.</remarks>
public abstract class Objective
{
    /// <summary>Cross-entropy and accuracy for <see cref="TaskKind.Classification"/>, mean squared error and RMSE/R^2 for
    /// <see cref="TaskKind.Regression"/>.</summary>
    public static Objective For(TaskKind task) => task switch
    {
        TaskKind.Classification => new ClassificationObjective(),
        TaskKind.Regression => new RegressionObjective(),
        _ => throw new ArgumentOutOfRangeException(nameof(task), task, "Unknown task."),
    };

    /// <summary>The task this objective is for.</summary>
    public abstract TaskKind Task { get; }

    /// <summary>The mean loss of <paramref name="output"/> against the batch's targets; remembers what <see cref="Backward"/> needs.</summary>
    public abstract double Forward(Tensor output, Batch batch);

    /// <summary>The gradient of the last <see cref="Forward"/>'s loss with respect to the network's output.</summary>
    public abstract Tensor Backward();

    /// <summary>The metric reported per training step: the batch's accuracy (classification) or RMSE (regression).</summary>
    public abstract double BatchMetric(Tensor output, Batch batch);

    /// <summary>Starts accumulating an evaluation over batches of <paramref name="data"/>.</summary>
    internal abstract EvaluationAccumulator StartEvaluation(Dataset data);
}

/// <summary>Sums an evaluation batch by batch.</summary>
internal abstract class EvaluationAccumulator
{
    public abstract void Add(Tensor output, Batch batch, double batchLoss);

    public abstract EvaluationResult Result(long step);
}

/// <summary>Softmax cross-entropy, accuracy and the confusion matrix.</summary>
internal sealed class ClassificationObjective : Objective
{
    private readonly CrossEntropyLoss _loss = new();

    public override TaskKind Task => TaskKind.Classification;

    public override double Forward(Tensor output, Batch batch) => _loss.Forward(output, batch.Labels);

    public override Tensor Backward() => _loss.Backward();

    public override double BatchMetric(Tensor output, Batch batch) => Metrics.Accuracy(output, batch.Labels);

    internal override EvaluationAccumulator StartEvaluation(Dataset data) => new Accumulator(data.ClassCount);

    private sealed class Accumulator(int classes) : EvaluationAccumulator
    {
        private readonly long[,] _confusion = new long[classes, classes];
        private double _loss;
        private int _count, _correct;

        public override void Add(Tensor output, Batch batch, double batchLoss)
        {
            _loss += batchLoss * batch.Size;
            _correct += Metrics.CountCorrect(output, batch.Labels);
            Metrics.AddToConfusion(output, batch.Labels, _confusion);
            _count += batch.Size;
        }

        public override EvaluationResult Result(long step) =>
            new(step, _loss / _count, (double)_correct / _count, _count, _confusion) { Task = TaskKind.Classification };
    }
}

/// <summary>Mean squared error, root mean squared error and the coefficient of determination.</summary>
internal sealed class RegressionObjective : Objective
{
    private readonly MseLoss _loss = new();

    public override TaskKind Task => TaskKind.Regression;

    public override double Forward(Tensor output, Batch batch) => _loss.Forward(output, TargetsOf(output, batch));

    public override Tensor Backward() => _loss.Backward();

    public override double BatchMetric(Tensor output, Batch batch) => Math.Sqrt(_loss.Forward(output, TargetsOf(output, batch)));

    internal override EvaluationAccumulator StartEvaluation(Dataset data) => new Accumulator(data.TargetCount);

    private static Tensor TargetsOf(Tensor output, Batch batch)
    {
        var targets = batch.Targets ?? throw new ArgumentException("A regression objective needs batches with targets; this batch has class labels.");
        if (!output.SameShape(targets))
            throw new ArgumentException($"The network's output {output.ShapeString} does not match the regression targets {targets.ShapeString}.");
        return targets;
    }

    private sealed class Accumulator(int outputs) : EvaluationAccumulator
    {
        private readonly double[] _mean = new double[outputs], _m2 = new double[outputs], _squaredError = new double[outputs];
        private long _count;

        public override void Add(Tensor output, Batch batch, double batchLoss)
        {
            var y = TargetsOf(output, batch).ReadOnlySpan;
            var p = output.ReadOnlySpan;
            for (int i = 0; i < batch.Size; i++)
            {
                _count++;
                for (int j = 0; j < outputs; j++)
                {
                    // Welford's update of each target's mean and sum of squared deviations, for R^2's denominator
                    double t = y[i * outputs + j], d = t - _mean[j];
                    _mean[j] += d / _count;
                    _m2[j] += d * (t - _mean[j]);
                    double e = p[i * outputs + j] - t;
                    _squaredError[j] += e * e;
                }
            }
        }

        public override EvaluationResult Result(long step)
        {
            double mse = _squaredError.Sum() / (_count * outputs);
            // R^2 = 1 - SS_res / SS_tot per target, averaged over targets (scikit-learn's "uniform_average")
            double r2 = Enumerable.Range(0, outputs).Average(j => _m2[j] > 0 ? 1 - _squaredError[j] / _m2[j] : double.NaN);
            return new EvaluationResult(step, mse, double.NaN, (int)_count, new long[0, 0])
            {
                Task = TaskKind.Regression,
                Rmse = Math.Sqrt(mse),
                R2 = r2,
            };
        }
    }
}
