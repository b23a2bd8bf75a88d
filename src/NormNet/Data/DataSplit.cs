namespace NormNet.Data;

/// <summary>Deterministic train/test splits of one data set, as scikit-learn's <c>train_test_split</c> (stratified for classes).</summary>
public static class DataSplit
{
    /// <summary>Splits <paramref name="data"/> into a training and a test split, <paramref name="testFraction"/> of the samples
    /// going to the test split; the same seed gives the same split.</summary>
    /// <remarks>For classification each class is split on its own (stratified): round(fraction * class size) of its samples,
    /// chosen by a seeded shuffle, go to the test split, so both splits keep the class proportions. For regression the
    /// samples are shuffled together. Both splits keep the original sample order.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">The fraction is not in (0, 1).</exception>
    /// <exception cref="ArgumentException">A split would be empty.</exception>
    public static (Dataset Train, Dataset Test) ByFraction(Dataset data, double testFraction, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!(testFraction > 0 && testFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "Expected a test fraction in (0, 1).");
        var isTest = new bool[data.Count];
        var rng = new Rng(seed);
        if (data.Task == TaskKind.Classification)
        {
            var labels = data.Labels.ToArray();
            for (int c = 0; c < data.ClassCount; c++)
                Choose(Enumerable.Range(0, data.Count).Where(i => labels[i] == c).ToArray(), testFraction, rng, isTest);
        }
        else Choose(Enumerable.Range(0, data.Count).ToArray(), testFraction, rng, isTest);
        var test = Enumerable.Range(0, data.Count).Where(i => isTest[i]).ToArray();
        var train = Enumerable.Range(0, data.Count).Where(i => !isTest[i]).ToArray();
        if (test.Length == 0 || train.Length == 0)
            throw new ArgumentException(
                $"{data.Name}: a test fraction of {testFraction} of {data.Count} samples leaves {train.Length} for training and {test.Length} for testing: expected both to be non-empty.");
        return (data.Subset(train, $"{data.Name} (training split)"), data.Subset(test, $"{data.Name} (test split, {testFraction:P0})"));
    }

    private static void Choose(int[] indices, double fraction, Rng rng, bool[] isTest)
    {
        rng.Shuffle(indices.AsSpan());
        int take = (int)Math.Round(fraction * indices.Length, MidpointRounding.AwayFromZero);
        for (int k = 0; k < take; k++) isTest[indices[k]] = true;
    }
}
