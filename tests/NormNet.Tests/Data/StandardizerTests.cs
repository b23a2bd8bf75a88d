using NormNet.Data;
using static NormNet.Tests.Data.IdxTestData;

namespace NormNet.Tests.Data;

/// <summary>Input standardization: mean 0 and std 1 per feature on the training data, zeros for constant features.</summary>
public class StandardizerTests
{
    /// <summary>200 images of 4x5 with random pixels, except pixel 0 = i, pixel 1 = i / 256 = 0, pixel 2 always 0
    /// and pixel 3 always 17: features 1, 2 and 3 are constant.</summary>
    private static ImageSet WithConstantFeatures(int seed)
    {
        var (images, labels) = Samples(200, 4, 5, seed);
        for (int i = 0; i < 200; i++)
        {
            images[i * 20 + 2] = 0;
            images[i * 20 + 3] = 17;
        }
        return new ImageSet(images, labels, 4, 5);
    }

    private static float[] AllInputs(ImageSet data, Standardizer? standardizer) =>
        new DataLoader(data, batchSize: data.Count, shuffle: false, standardizer: standardizer).Next().Inputs.ToArray();

    [Fact]
    public void TrainingFeaturesGetMeanZeroStdOne_ConstantFeaturesZero()
    {
        var train = WithConstantFeatures(seed: 1);
        var s = Standardizer.Fit(train);
        Assert.Equal(20, s.FeatureCount);
        Assert.Equal(1f, s.Std[2]);
        Assert.Equal(1f, s.Std[3]);
        Assert.Equal(17f / 255f, s.Mean[3]);
        var x = AllInputs(train, s);
        for (int f = 0; f < 20; f++)
        {
            var column = Enumerable.Range(0, train.Count).Select(i => (double)x[i * 20 + f]).ToArray();
            double mean = column.Average();
            double std = Math.Sqrt(column.Average(v => (v - mean) * (v - mean)));
            if (f is 1 or 2 or 3)
                Assert.All(column, v => Assert.Equal(0.0, v));
            else
            {
                Assert.True(Math.Abs(mean) < 1e-6, $"feature {f}: mean {mean}");
                Assert.True(Math.Abs(std - 1) < 1e-5, $"feature {f}: std {std}");
            }
        }
    }

    [Fact]
    public void TestDataUsesTheTrainingStatistics()
    {
        var train = WithConstantFeatures(seed: 1);
        var test = WithConstantFeatures(seed: 2);
        var s = Standardizer.Fit(train);
        var raw = AllInputs(test, null);
        var standardized = AllInputs(test, s);
        for (int i = 0; i < raw.Length; i++)
            Assert.Equal((raw[i] - s.Mean[i % 20]) / s.Std[i % 20], standardized[i]);
        Assert.All(standardized, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void FitOnFloatsMatchesFitOnImages()
    {
        var train = WithConstantFeatures(seed: 3);
        var fromImages = Standardizer.Fit(train);
        var fromFloats = Standardizer.Fit(AllInputs(train, null), 20);
        Assert.Equal(fromImages.Mean.ToArray(), fromFloats.Mean.ToArray());
        Assert.Equal(fromImages.Std.ToArray(), fromFloats.Std.ToArray());
    }

    [Fact]
    public void SavedStatisticsRestoreTheSameTransform()
    {
        var train = WithConstantFeatures(seed: 4);
        var fitted = Standardizer.Fit(train);
        var restored = new Standardizer(fitted.Mean.ToArray(), fitted.Std.ToArray());
        var x = Tensor.FromArray(AllInputs(train, null), train.Count, 20);
        var y = x.Clone();
        fitted.Apply(x);
        restored.Apply(y);
        Assert.Equal(x.ToArray(), y.ToArray());
    }

    [Fact]
    public void BadArgumentsThrowClearly()
    {
        Assert.Contains("Expected 3 standard deviations (one per mean), got 2",
            Assert.Throws<ArgumentException>(() => new Standardizer([0, 0, 0], [1, 1])).Message);
        Assert.Contains("Std of feature 1 is 0: expected a positive finite value",
            Assert.Throws<ArgumentException>(() => new Standardizer([0, 0], [1, 0])).Message);
        Assert.Contains("Mean of feature 0 is NaN: expected a finite value",
            Assert.Throws<ArgumentException>(() => new Standardizer([float.NaN], [1])).Message);
        Assert.Contains("Expected a positive multiple of 3 values (rows of 3 features), got 4",
            Assert.Throws<ArgumentException>(() => Standardizer.Fit(new float[4], 3)).Message);
        Assert.Contains("Feature 1 has a non-finite value",
            Assert.Throws<ArgumentException>(() => Standardizer.Fit([0, float.PositiveInfinity], 2)).Message);
        var s = new Standardizer([0, 0, 0], [1, 1, 1]);
        Assert.Contains("Expected a multiple of 3 values (rows of 3 features), got 5",
            Assert.Throws<ArgumentException>(() => s.Apply(new float[5])).Message);
        Assert.Contains("with 3 features per sample, got (2, 2)",
            Assert.Throws<ArgumentException>(() => s.Apply(Tensor.Zeros(2, 2))).Message);
    }
}
