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

/// <summary>Sums an evaluation piece by piece: rows [start, start + rows) of a batch and the network's outputs for them.</summary>
internal abstract class EvaluationAccumulator
{
    public abstract void Add(Tensor output, Batch batch, int start, int rows);

    /// <summary>The totals as a result; an evaluation of nothing is an error rather than a 0/0 score.</summary>
    public abstract EvaluationResult Result(long step);

    private protected static InvalidOperationException Empty() => new("Evaluation saw no samples: the data loader is empty.");
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
        private readonly CrossEntropyLoss _loss = new();
        private readonly long[,] _confusion = new long[classes, classes];
        private double _totalLoss;
        private int _count, _correct, _nonFinite;

        public override void Add(Tensor output, Batch batch, int start, int rows)
        {
            var labels = batch.Labels.AsSpan(start, rows);
            _totalLoss += _loss.Forward(output, labels) * rows;
            _correct += Metrics.CountCorrect(output, labels);
            Metrics.AddToConfusion(output, labels, _confusion);
            _nonFinite += Metrics.CountNonFiniteRows(output);
            _count += rows;
        }

        public override EvaluationResult Result(long step) => _count == 0 ? throw Empty()
            : new(step, _totalLoss / _count, (double)_correct / _count, _count, _confusion, _nonFinite) { Task = TaskKind.Classification };
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
        private int _nonFinite;

        public override void Add(Tensor output, Batch batch, int start, int rows)
        {
            var targets = batch.Targets ?? throw new ArgumentException("A regression objective needs batches with targets; this batch has class labels.");
            if (output.Rank != 2 || output.Dim(0) != rows || output.Dim(1) != outputs)
                throw new ArgumentException($"The network's output {output.ShapeString} does not match {rows} rows of {outputs} regression targets.");
            var y = targets.ReadOnlySpan.Slice(start * outputs, rows * outputs);
            var p = output.ReadOnlySpan;
            _nonFinite += Metrics.CountNonFiniteRows(output);
            for (int i = 0; i < rows; i++)
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
            if (_count == 0) throw Empty();
            double mse = _squaredError.Sum() / (_count * outputs);
            // R^2 = 1 - SS_res / SS_tot per target, averaged over targets (scikit-learn's "uniform_average")
            double r2 = Enumerable.Range(0, outputs).Average(j => _m2[j] > 0 ? 1 - _squaredError[j] / _m2[j] : double.NaN);
            return new EvaluationResult(step, mse, double.NaN, (int)_count, new long[0, 0], _nonFinite)
            {
                Task = TaskKind.Regression,
                Rmse = Math.Sqrt(mse),
                R2 = r2,
            };
        }
    }
}
