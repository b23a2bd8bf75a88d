using NormNet.Losses;

namespace NormNet.Training;

/// <summary>Sums an evaluation's loss, correct rows, confusion counts and non-finite rows over its batches.</summary>
internal sealed class EvaluationTally(int classes)
{
    private readonly CrossEntropyLoss _loss = new();
    private readonly long[,] _confusion = new long[classes, classes];
    private double _totalLoss;
    private int _count, _correct, _nonFinite;

    /// <summary>Adds one batch's (N, classes) outputs and labels.</summary>
    public void Add(Tensor logits, ReadOnlySpan<int> labels)
    {
        _totalLoss += _loss.Forward(logits, labels) * labels.Length;
        _correct += Metrics.CountCorrect(logits, labels);
        Metrics.AddToConfusion(logits, labels, _confusion);
        _nonFinite += Metrics.CountNonFiniteRows(logits);
        _count += labels.Length;
    }

    /// <summary>The totals as a result; an evaluation of nothing is an error rather than a 0/0 score.</summary>
    public EvaluationResult Result(long step) => _count == 0
        ? throw new InvalidOperationException("Evaluation saw no samples: the data loader is empty.")
        : new EvaluationResult(step, _totalLoss / _count, (double)_correct / _count, _count, _confusion, _nonFinite);
}
