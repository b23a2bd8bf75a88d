namespace NormNet.Losses;

/// <summary>Classification metrics over (N, C) scores.</summary>
/// <remarks>A row holding a NaN or infinite score has no meaningful arg-max: it counts as wrong in every metric
/// (comparisons with NaN are false, so without this check a NaN row would beat nothing and count as correct),
/// and <see cref="CountNonFiniteRows"/> says how many there were, so a broken model is never reported as accurate.</remarks>
public static class Metrics
{
    /// <summary>The number of rows whose arg-max equals the label (ties go to the lowest class, as torch.argmax);
    /// a row with a non-finite score counts as wrong.</summary>
    public static int CountCorrect(Tensor scores, ReadOnlySpan<int> labels) => CountTopK(scores, labels, 1);

    /// <summary>The fraction of rows whose arg-max equals the label; rows with a non-finite score count as wrong.</summary>
    public static double Accuracy(Tensor scores, ReadOnlySpan<int> labels) => (double)CountCorrect(scores, labels) / labels.Length;

    /// <summary>The number of rows whose label is among the k highest scores; a row with a non-finite score counts as wrong.</summary>
    public static int CountTopK(Tensor scores, ReadOnlySpan<int> labels, int k)
    {
        int c = CheckShape(scores, labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var s = scores.ReadOnlySpan;
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = s.Slice(i * c, c);
            if (!IsFinite(row)) continue;
            float target = row[labels[i]];
            int better = 0;
            for (int j = 0; j < c; j++)
                if (row[j] > target || (row[j] == target && j < labels[i])) better++;
            if (better < k) correct++;
        }
        return correct;
    }

    /// <summary>The number of rows holding at least one NaN or infinite score.</summary>
    public static int CountNonFiniteRows(Tensor scores)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Rank != 2) throw new ArgumentException($"Metrics: expected (N, C) scores, got {scores.ShapeString}.", nameof(scores));
        int c = scores.Dim(1), count = 0;
        var s = scores.ReadOnlySpan;
        for (int i = 0; i < scores.Dim(0); i++)
            if (!IsFinite(s.Slice(i * c, c))) count++;
        return count;
    }

    /// <summary>Adds each row's (label, arg-max) pair to a C x C confusion matrix (rows: true class, columns: predicted).
    /// Rows with a non-finite score predict nothing and are left out (count them with <see cref="CountNonFiniteRows"/>).</summary>
    public static void AddToConfusion(Tensor scores, ReadOnlySpan<int> labels, long[,] confusion)
    {
        int c = CheckShape(scores, labels);
        ArgumentNullException.ThrowIfNull(confusion);
        if (confusion.GetLength(0) < c || confusion.GetLength(1) < c)
            throw new ArgumentException($"Metrics: a {confusion.GetLength(0)} x {confusion.GetLength(1)} confusion matrix is too small for {c} classes.", nameof(confusion));
        var s = scores.ReadOnlySpan;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = s.Slice(i * c, c);
            if (!IsFinite(row)) continue;
            int best = 0;
            for (int j = 1; j < c; j++) if (row[j] > row[best]) best = j;
            confusion[labels[i], best]++;
        }
    }

    private static int CheckShape(Tensor scores, ReadOnlySpan<int> labels)
    {
        ArgumentNullException.ThrowIfNull(scores);
        if (scores.Rank != 2 || scores.Dim(0) != labels.Length)
            throw new ArgumentException($"Metrics: scores {scores.ShapeString} do not match {labels.Length} labels.", nameof(scores));
        int c = scores.Dim(1);
        foreach (int label in labels)
            if ((uint)label >= (uint)c)
                throw new ArgumentException($"Metrics: label {label} is outside [0, {c}) for scores {scores.ShapeString}.", nameof(labels));
        return c;
    }

    private static bool IsFinite(ReadOnlySpan<float> row)
    {
        foreach (float v in row)
            if (!float.IsFinite(v)) return false;
        return true;
    }
}
