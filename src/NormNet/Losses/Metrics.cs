namespace NormNet.Losses;

/// <summary>Classification metrics over (N, C) scores.</summary>
public static class Metrics
{
    /// <summary>The number of rows whose arg-max equals the label (ties go to the lowest class, as torch.argmax).</summary>
    public static int CountCorrect(Tensor scores, ReadOnlySpan<int> labels) => CountTopK(scores, labels, 1);

    /// <summary>The fraction of rows whose arg-max equals the label.</summary>
    public static double Accuracy(Tensor scores, ReadOnlySpan<int> labels) => (double)CountCorrect(scores, labels) / labels.Length;

    /// <summary>The number of rows whose label is among the k highest scores.</summary>
    public static int CountTopK(Tensor scores, ReadOnlySpan<int> labels, int k)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Rank != 2 || scores.Dim(0) != labels.Length)
            throw new ArgumentException($"Metrics: scores {scores.ShapeString} do not match {labels.Length} labels.");
        int c = scores.Dim(1);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var s = scores.ReadOnlySpan;
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = s.Slice(i * c, c);
            float target = row[labels[i]];
            int better = 0;
            for (int j = 0; j < c; j++)
                if (row[j] > target || (row[j] == target && j < labels[i])) better++;
            if (better < k) correct++;
        }
        return correct;
    }

    /// <summary>Adds each row's (label, arg-max) pair to a C x C confusion matrix (rows: true class, columns: predicted).</summary>
    public static void AddToConfusion(Tensor scores, ReadOnlySpan<int> labels, long[,] confusion)
    {
        int c = scores.Dim(1);
        var s = scores.ReadOnlySpan;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = s.Slice(i * c, c);
            int best = 0;
            for (int j = 1; j < c; j++) if (row[j] > row[best]) best = j;
            confusion[labels[i], best]++;
        }
    }
}
