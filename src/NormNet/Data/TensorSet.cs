using System.Runtime.InteropServices;

namespace NormNet.Data;

/// <summary>A split of float32 samples of any shape with class labels or regression targets, as PyTorch's
/// <c>TensorDataset</c>: a table read from CSV, or features built in memory.</summary>
/// <remarks>The arrays are used as given, not copied, and must not be changed afterwards.</remarks>
public sealed class TensorSet : Dataset
{
    private readonly float[] _features;

    private TensorSet(float[] features, int[] sampleShape, int[]? labels, IReadOnlyList<string>? classNames,
        float[]? targets, IReadOnlyList<string>? targetNames, string name, IReadOnlyList<string>? featureNames)
        : base(CountOf(features, sampleShape, name), sampleShape, labels, classNames, targets, targetNames, name)
    {
        int bad = Array.FindIndex(features, v => !float.IsFinite(v));
        if (bad >= 0)
            throw new ArgumentException($"{name}: feature {bad % FeatureCount} of sample {bad / FeatureCount} is {features[bad]}: expected a finite value.", nameof(features));
        if (featureNames is not null && featureNames.Count != FeatureCount)
            throw new ArgumentException($"{name}: expected {FeatureCount} feature names (one per feature), found {featureNames.Count}.", nameof(featureNames));
        _features = features;
        FeatureNames = featureNames?.ToArray() ?? [];
    }

    /// <summary>A classification split: N samples of <paramref name="sampleShape"/> features, one class index each.</summary>
    /// <param name="features">N * prod(sampleShape) finite values, sample after sample.</param>
    /// <param name="sampleShape">One sample's shape, e.g. [F] or [C, H, W].</param>
    /// <param name="labels">N class indices, each below the class count.</param>
    /// <param name="classNames">The class names, index by index; null names them "0", "1", ... up to the largest label.</param>
    /// <param name="name">Names the split in messages.</param>
    /// <param name="featureNames">The names of the prod(sampleShape) features (e.g. CSV columns); null when they have none.</param>
    /// <exception cref="ArgumentException">The sizes disagree, a value is not finite, or a label is out of range.</exception>
    public static TensorSet ForClassification(float[] features, int[] sampleShape, int[] labels,
        IReadOnlyList<string>? classNames = null, string name = "tensor set", IReadOnlyList<string>? featureNames = null) =>
        new(features, sampleShape, labels ?? throw new ArgumentNullException(nameof(labels)), classNames, null, null, name, featureNames);

    /// <summary>A regression split: N samples of <paramref name="sampleShape"/> features, T real targets each.</summary>
    /// <param name="features">N * prod(sampleShape) finite values, sample after sample.</param>
    /// <param name="sampleShape">One sample's shape.</param>
    /// <param name="targets">N * T finite values, sample after sample.</param>
    /// <param name="targetNames">The T target names; null for a single target named "target".</param>
    /// <param name="name">Names the split in messages.</param>
    /// <param name="featureNames">The names of the prod(sampleShape) features (e.g. CSV columns); null when they have none.</param>
    /// <exception cref="ArgumentException">The sizes disagree or a value is not finite.</exception>
    public static TensorSet ForRegression(float[] features, int[] sampleShape, float[] targets,
        IReadOnlyList<string>? targetNames = null, string name = "tensor set", IReadOnlyList<string>? featureNames = null) =>
        new(features, sampleShape, null, null, targets ?? throw new ArgumentNullException(nameof(targets)), targetNames, name, featureNames);

    /// <summary>All features, N * <see cref="Dataset.FeatureCount"/> values.</summary>
    public ReadOnlySpan<float> Features => _features;

    /// <summary>The names of the <see cref="Dataset.FeatureCount"/> features, e.g. a CSV's feature columns in file order;
    /// empty when the features have no names.</summary>
    public IReadOnlyList<string> FeatureNames { get; }

    /// <inheritdoc />
    public override void CopyFeatures(int index, Span<float> destination)
    {
        CheckIndex(index);
        _features.AsSpan(index * FeatureCount, FeatureCount).CopyTo(destination);
    }

    /// <inheritdoc />
    internal override void Prefetch(int index)
    {
        CheckIndex(index);
        PrefetchLines(MemoryMarshal.AsBytes(_features.AsSpan(index * FeatureCount, FeatureCount)));
    }

    /// <inheritdoc />
    public override TensorSet Subset(ReadOnlySpan<int> indices, string name)
    {
        var (labels, targets) = TargetsOf(indices);
        var features = new float[(long)indices.Length * FeatureCount];
        for (int k = 0; k < indices.Length; k++) CopyFeatures(indices[k], features.AsSpan(k * FeatureCount, FeatureCount));
        return new TensorSet(features, SampleShape.ToArray(), labels, labels is null ? null : ClassNames, targets,
            targets is null ? null : TargetNames, name, FeatureNames.Count == 0 ? null : FeatureNames);
    }

    private static int CountOf(float[] features, int[] sampleShape, string name)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(sampleShape);
        long perSample = sampleShape.Aggregate(1L, (a, d) => a * Math.Max(d, 0));
        if (perSample < 1 || features.Length % perSample != 0)
            throw new ArgumentException($"{name}: {features.Length} feature values are not a whole number of samples of shape ({string.Join(", ", sampleShape)}).", nameof(features));
        return (int)(features.Length / perSample);
    }
}
