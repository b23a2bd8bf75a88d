using System.Numerics;

namespace NormNet.Data;

/// <summary>
/// Per-feature input standardization, <c>x' = (x - mean) / std</c>, with the mean and standard deviation of each
/// feature (pixel) fitted on the training data and applied unchanged to training and test data.
/// </summary>
/// <remarks>
/// <para><c>std</c> is the population standard deviation (divided by N, not N - 1), computed in double: the mean
/// first, then the mean squared deviation. Images are fitted after pixel scaling (<c>byte / 255f</c>), on exactly
/// the values <see cref="DataLoader"/> produces.</para>
/// <para>A feature with zero variance (MNIST's always-black border pixels) gets <c>std = 1</c>, not <c>std + eps</c>:
/// its values all equal its mean, so they map to exactly 0 instead of dividing by zero. Features with a tiny but
/// non-zero variance are standardized as they are and can give large values for their rare non-constant samples.</para>
/// <para><see cref="Mean"/> and <see cref="Std"/> are what a checkpoint saves; the constructor restores them.</para>
/// </remarks>
public sealed class Standardizer
{
    private readonly float[] _mean;
    private readonly float[] _std;

    /// <summary>Creates a standardizer from saved statistics (copied).</summary>
    /// <param name="mean">The per-feature means.</param>
    /// <param name="std">The per-feature standard deviations, each positive and finite.</param>
    /// <exception cref="ArgumentException">The lengths differ or are zero, a mean is not finite, or a std is not positive and finite.</exception>
    public Standardizer(float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length == 0)
            throw new ArgumentException("Expected at least 1 feature, got 0.", nameof(mean));
        if (std.Length != mean.Length)
            throw new ArgumentException($"Expected {mean.Length} standard deviations (one per mean), got {std.Length}.", nameof(std));
        for (int i = 0; i < mean.Length; i++)
        {
            if (!float.IsFinite(mean[i]))
                throw new ArgumentException($"Mean of feature {i} is {mean[i]}: expected a finite value.", nameof(mean));
            if (!(std[i] > 0) || !float.IsFinite(std[i]))
                throw new ArgumentException($"Std of feature {i} is {std[i]}: expected a positive finite value.", nameof(std));
        }
        _mean = (float[])mean.Clone();
        _std = (float[])std.Clone();
    }

    /// <summary>Fits the per-feature statistics of a split, on the values the loader produces (images after pixel
    /// scaling; one feature per pixel).</summary>
    public static Standardizer Fit(Dataset train)
    {
        ArgumentNullException.ThrowIfNull(train);
        var (mean, variance) = Moments(train, train.FeatureCount, 1);
        return FromMoments(mean, variance);
    }

    /// <summary>Fits one mean and standard deviation per image channel (as torchvision's <c>Normalize(mean, std)</c>),
    /// repeated over the channel's pixels so that it applies like any standardizer.</summary>
    /// <exception cref="ArgumentException">The samples are not images (C, H, W).</exception>
    public static Standardizer FitPerChannel(Dataset train)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (!train.IsImage) throw new ArgumentException($"{train.Name}: per-channel statistics need images (C, H, W), got samples of {train.ShapeString}.", nameof(train));
        int channels = train.SampleShape[0], plane = train.FeatureCount / channels;
        var (mean, variance) = Moments(train, channels, plane);
        var m = new double[train.FeatureCount];
        var v = new double[train.FeatureCount];
        for (int c = 0; c < channels; c++)
        {
            m.AsSpan(c * plane, plane).Fill(mean[c]);
            v.AsSpan(c * plane, plane).Fill(variance[c]);
        }
        return FromMoments(m, v);
    }

    // mean and population variance of each of `groups` groups of `groupSize` consecutive features, two passes in double
    private static (double[] Mean, double[] Variance) Moments(Dataset data, int groups, int groupSize)
    {
        var row = new float[data.FeatureCount];
        var mean = new double[groups];
        var variance = new double[groups];
        double n = (double)data.Count * groupSize;
        for (int i = 0; i < data.Count; i++)
        {
            data.CopyFeatures(i, row);
            for (int f = 0; f < row.Length; f++) mean[f / groupSize] += row[f];
        }
        for (int g = 0; g < groups; g++) mean[g] /= n;
        for (int i = 0; i < data.Count; i++)
        {
            data.CopyFeatures(i, row);
            for (int f = 0; f < row.Length; f++)
            {
                double d = row[f] - mean[f / groupSize];
                variance[f / groupSize] += d * d;
            }
        }
        for (int g = 0; g < groups; g++) variance[g] /= n;
        return (mean, variance);
    }

    /// <summary>Fits the statistics of float samples, row after row, each of <paramref name="featureCount"/> features.</summary>
    /// <exception cref="ArgumentException">The length is not a positive multiple of <paramref name="featureCount"/>, or a value is not finite.</exception>
    public static Standardizer Fit(ReadOnlySpan<float> samples, int featureCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(featureCount, 1);
        if (samples.Length == 0 || samples.Length % featureCount != 0)
            throw new ArgumentException(
                $"Expected a positive multiple of {featureCount} values (rows of {featureCount} features), got {samples.Length}.", nameof(samples));
        int n = samples.Length / featureCount;
        var mean = new double[featureCount];
        var variance = new double[featureCount];
        for (int r = 0; r < n; r++)
        {
            var row = samples.Slice(r * featureCount, featureCount);
            for (int f = 0; f < featureCount; f++) mean[f] += row[f];
        }
        for (int f = 0; f < featureCount; f++)
        {
            if (!double.IsFinite(mean[f]))
                throw new ArgumentException($"Feature {f} has a non-finite value (its sum is {mean[f]}).", nameof(samples));
            mean[f] /= n;
        }
        for (int r = 0; r < n; r++)
        {
            var row = samples.Slice(r * featureCount, featureCount);
            for (int f = 0; f < featureCount; f++)
            {
                double d = row[f] - mean[f];
                variance[f] += d * d;
            }
        }
        for (int f = 0; f < featureCount; f++) variance[f] /= n;
        return FromMoments(mean, variance);
    }

    /// <summary>The number of features.</summary>
    public int FeatureCount => _mean.Length;

    /// <summary>The per-feature means.</summary>
    public ReadOnlySpan<float> Mean => _mean;

    /// <summary>The per-feature standard deviations; 1 for features of zero variance.</summary>
    public ReadOnlySpan<float> Std => _std;

    /// <summary>Standardizes rows of <see cref="FeatureCount"/> values in place: <c>x = (x - mean) / std</c>.</summary>
    /// <exception cref="ArgumentException">The length is not a multiple of <see cref="FeatureCount"/>.</exception>
    public void Apply(Span<float> values)
    {
        int features = _mean.Length;
        if (values.Length % features != 0)
            throw new ArgumentException(
                $"Expected a multiple of {features} values (rows of {features} features), got {values.Length}.", nameof(values));
        for (int offset = 0; offset < values.Length; offset += features)
            ApplyRow(values.Slice(offset, features));
    }

    /// <summary>Standardizes a tensor in place; its first dimension is the batch, the rest must hold <see cref="FeatureCount"/> elements.</summary>
    /// <exception cref="ArgumentException">The tensor's per-sample size differs from <see cref="FeatureCount"/>.</exception>
    public void Apply(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank < 2 || (long)x.Dim(0) * FeatureCount != x.Length)
            throw new ArgumentException(
                $"Expected a tensor of shape (B, ...) with {FeatureCount} features per sample, got {x.ShapeString}.", nameof(x));
        Apply(x.Span);
    }

    private void ApplyRow(Span<float> row)
    {
        // (x - mean) / std, elementwise; the vector and scalar paths round identically.
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= row.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var x = new Vector<float>(row[i..]);
                ((x - new Vector<float>(_mean, i)) / new Vector<float>(_std, i)).CopyTo(row[i..]);
            }
        for (; i < row.Length; i++) row[i] = (row[i] - _mean[i]) / _std[i];
    }

    private static Standardizer FromMoments(double[] mean, double[] variance)
    {
        var m = new float[mean.Length];
        var s = new float[mean.Length];
        for (int f = 0; f < mean.Length; f++)
        {
            m[f] = (float)mean[f];
            float std = (float)Math.Sqrt(variance[f]);
            s[f] = std > 0 && float.IsFinite(std) ? std : 1f; // zero variance: the values equal the mean and map to 0
        }
        return new Standardizer(m, s);
    }
}
