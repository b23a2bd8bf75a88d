using System.Globalization;
using System.Runtime.Intrinsics.X86;

namespace NormNet.Data;

/// <summary>What a data set's targets are: class indices or real values.</summary>
public enum TaskKind
{
    /// <summary>One class index per sample, below <see cref="Dataset.ClassCount"/> (cross-entropy, accuracy).</summary>
    Classification,

    /// <summary><see cref="Dataset.TargetCount"/> real values per sample (mean squared error, RMSE, R^2).</summary>
    Regression,
}

/// <summary>
/// One split of a data set: N samples of float32 features of one per-sample shape (a vector of F features, or
/// C x H x W images), each with a class index (classification) or real targets (regression); as a PyTorch
/// <c>Dataset</c> of (features, target) pairs.
/// </summary>
/// <remarks>
/// <para><see cref="CopyFeatures"/> gives a sample's features as the network sees them before standardization:
/// images stored as bytes are scaled to [0, 1] there (<see cref="ImageSet"/>), tables are as stored
/// (<see cref="TensorSet"/>).</para>
/// <para>The arrays a split is built from are used as given, not copied, and must not be changed afterwards.</para>
/// </remarks>
public abstract class Dataset
{
    private readonly int[] _sampleShape;
    private readonly int[]? _labels;
    private readonly float[]? _targets;

    /// <summary>Checks and keeps the shape and targets; exactly one of <paramref name="labels"/> and <paramref name="targets"/> is given.</summary>
    /// <exception cref="ArgumentException">The sizes disagree, a label is out of range, a target is not finite, or a name list has the wrong length.</exception>
    private protected Dataset(int count, int[] sampleShape, int[]? labels, IReadOnlyList<string>? classNames,
        float[]? targets, IReadOnlyList<string>? targetNames, string name)
    {
        ArgumentNullException.ThrowIfNull(sampleShape);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (count < 1) throw new ArgumentException($"{name}: expected at least 1 sample, found {count}.");
        if (sampleShape.Length == 0 || sampleShape.Any(d => d < 1))
            throw new ArgumentException($"{name}: expected a per-sample shape of positive sizes, got ({string.Join(", ", sampleShape)}).", nameof(sampleShape));
        long features = sampleShape.Aggregate(1L, (a, d) => a * d);
        if (features > Array.MaxLength)
            throw new ArgumentException($"{name}: a sample of shape ({string.Join(", ", sampleShape)}) has {features} features, more than an array holds.");
        if ((labels is null) == (targets is null)) throw new ArgumentException($"{name}: expected either class labels or regression targets.");
        Name = name;
        Count = count;
        _sampleShape = (int[])sampleShape.Clone();
        FeatureCount = (int)features;
        if (labels is not null)
        {
            if (labels.Length != count) throw new ArgumentException($"{name}: expected {count} labels (one per sample), found {labels.Length}.", nameof(labels));
            int classCount = classNames?.Count ?? (labels.Length == 0 ? 0 : labels.Max() + 1);
            if (classCount < 1) throw new ArgumentException($"{name}: expected at least 1 class.", nameof(classNames));
            int bad = Array.FindIndex(labels, l => l < 0 || l >= classCount);
            if (bad >= 0)
                throw new ArgumentException($"{name}: label {labels[bad]} at index {bad}: expected a value in [0, {classCount}) (the class count).", nameof(labels));
            Task = TaskKind.Classification;
            _labels = labels;
            ClassNames = classNames?.ToArray() ?? Enumerable.Range(0, classCount).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
            TargetNames = [];
        }
        else
        {
            int outputs = targetNames?.Count ?? 1;
            if (outputs < 1 || targets!.Length != (long)count * outputs)
                throw new ArgumentException($"{name}: expected {count} x {outputs} targets, found {targets!.Length}.", nameof(targets));
            int bad = Array.FindIndex(targets, t => !float.IsFinite(t));
            if (bad >= 0)
                throw new ArgumentException($"{name}: target of sample {bad / outputs} is {targets[bad]}: expected a finite value.", nameof(targets));
            Task = TaskKind.Regression;
            _targets = targets;
            TargetNames = targetNames?.ToArray() ?? ["target"];
            ClassNames = [];
        }
    }

    /// <summary>Names the split in messages, e.g. a file.</summary>
    public string Name { get; }

    /// <summary>N, the number of samples.</summary>
    public int Count { get; }

    /// <summary>The shape of one sample's features: (F) for a table, (C, H, W) for images.</summary>
    public ReadOnlySpan<int> SampleShape => _sampleShape;

    /// <summary>The number of features per sample (the product of <see cref="SampleShape"/>).</summary>
    public int FeatureCount { get; }

    /// <summary>Whether the samples are images, (C, H, W).</summary>
    public bool IsImage => _sampleShape.Length == 3;

    /// <summary>Classification or regression.</summary>
    public TaskKind Task { get; }

    /// <summary>The number of classes (0 for regression).</summary>
    public int ClassCount => ClassNames.Count;

    /// <summary>The class names, index by index (the digits "0", "1", ... when the data has none).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The number of real targets per sample (0 for classification).</summary>
    public int TargetCount => TargetNames.Count;

    /// <summary>The names of the regression targets (e.g. CSV columns).</summary>
    public IReadOnlyList<string> TargetNames { get; }

    /// <summary>The class index of every sample (empty for regression).</summary>
    public ReadOnlySpan<int> Labels => _labels;

    /// <summary>The <see cref="TargetCount"/> targets of every sample, sample after sample (empty for classification).</summary>
    public ReadOnlySpan<float> Targets => _targets;

    /// <summary>The shape of a sample as a string, e.g. <c>3x32x32</c> or <c>13</c>.</summary>
    public string ShapeString => string.Join('x', _sampleShape);

    /// <summary>Writes sample <paramref name="index"/>'s <see cref="FeatureCount"/> features into <paramref name="destination"/>.</summary>
    public abstract void CopyFeatures(int index, Span<float> destination);

    /// <summary>Asks the processor to start loading sample <paramref name="index"/>'s stored features into its caches, so that a
    /// later <see cref="CopyFeatures"/> of it does not wait on memory; a hint that changes nothing else (the default does nothing).</summary>
    internal virtual void Prefetch(int index)
    {
    }

    /// <summary>Prefetches every cache line of <paramref name="bytes"/> (where the processor has a prefetch instruction).</summary>
    private protected static unsafe void PrefetchLines(ReadOnlySpan<byte> bytes)
    {
        if (!Sse.IsSupported || bytes.IsEmpty) return;
        fixed (byte* start = bytes)
            for (int offset = 0; offset < bytes.Length; offset += 64) Sse.Prefetch0(start + offset);
    }

    /// <summary>The samples at <paramref name="indices"/>, in that order, as a new split (arrays copied).</summary>
    public abstract Dataset Subset(ReadOnlySpan<int> indices, string name);

    /// <summary>How many samples each class has (length <see cref="ClassCount"/>; empty for regression).</summary>
    public int[] ClassCounts()
    {
        var counts = new int[ClassCount];
        foreach (int label in Labels) counts[label]++;
        return counts;
    }

    /// <summary>Checks that <paramref name="index"/> names a sample.</summary>
    private protected void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Expected a sample index in [0, {Count}).");
    }

    /// <summary>The labels (or targets) of <paramref name="indices"/>, for <see cref="Subset"/>.</summary>
    private protected (int[]? Labels, float[]? Targets) TargetsOf(ReadOnlySpan<int> indices)
    {
        foreach (int i in indices) CheckIndex(i);
        if (_labels is not null)
        {
            var labels = new int[indices.Length];
            for (int k = 0; k < indices.Length; k++) labels[k] = _labels[indices[k]];
            return (labels, null);
        }
        int t = TargetCount;
        var targets = new float[indices.Length * t];
        for (int k = 0; k < indices.Length; k++) Array.Copy(_targets!, indices[k] * t, targets, k * t, t);
        return (null, targets);
    }

    /// <summary>One line saying what the split holds, e.g. <c>1,000 samples of 3x32x32, 10 classes</c>.</summary>
    public string Summary => string.Create(CultureInfo.InvariantCulture,
        $"{Count:N0} {(IsImage ? "images" : "samples")} of {ShapeString}, {TargetSummary}");

    private string TargetSummary => Task == TaskKind.Classification
        ? $"{ClassCount} classes"
        : TargetCount == 1 ? "1 regression target" : $"{TargetCount} regression targets";
}
