using NormNet.Kernels;
using NormNet.Threading;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>Global average pooling against a double reference for every tail length of the eight-lane sum (planes of 1
/// to 17 elements, and 49 and 784 as the networks have them), with values of very different sizes (so a dropped or doubled
/// element shows); the same bits for 1 and 2 threads; its backward; sizes that do not match.</summary>
public class GlobalAvgPoolTests
{
    [Theory]
    [InlineData(1), InlineData(2), InlineData(3), InlineData(7), InlineData(8), InlineData(9), InlineData(15), InlineData(16), InlineData(17)]
    [InlineData(49), InlineData(784)]
    public void Forward_IsTheMeanOfEachPlane(int plane)
    {
        int planes = 2000; // 2000 x 784 is above the size that runs on the workers
        var x = RandomNormal(planes * plane, plane, 0, 3);
        for (int i = 0; i < x.Length; i += 5) x[i] *= 1000;
        var y = new float[planes];
        Pooling.GlobalAvgForward(x, planes, plane, y);
        var expected = new double[planes];
        for (int p = 0; p < planes; p++)
        {
            for (int j = 0; j < plane; j++) expected[p] += x[p * plane + j];
            expected[p] /= plane;
        }
        AssertClose(expected, y, 1e-6, $"mean of planes of {plane}");
    }

    [Fact]
    public void Forward_IsBitIdenticalAcrossThreadCounts_AndBackwardSpreadsTheGradient()
    {
        int planes = 300, plane = 784;
        var x = RandomNormal(planes * plane, 3);
        float[] Run(int threads)
        {
            using var _ = ComputeSettings.Use(new ComputeSettings(threads));
            var y = new float[planes];
            Pooling.GlobalAvgForward(x, planes, plane, y);
            return y;
        }
        Assert.Equal(Run(1), Run(2));
        var dy = RandomNormal(planes, 4);
        var dx = new float[planes * plane];
        Pooling.GlobalAvgBackward(dy, planes, plane, dx);
        for (int p = 0; p < planes; p++) Assert.All(dx.AsSpan(p * plane, plane).ToArray(), v => Assert.Equal(dy[p] / plane, v));
    }

    [Fact]
    public void WrongSizes_Throw()
    {
        var ex = Assert.Throws<ArgumentException>(() => Pooling.GlobalAvgForward(new float[10], 2, 4, new float[2]));
        Assert.Contains("input has 10 elements (expected 8)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Pooling.GlobalAvgForward(new float[8], 2, 4, new float[3]));
        Assert.Contains("output 3 (expected 2)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => Pooling.GlobalAvgBackward(new float[2], 2, 4, new float[7]));
        Assert.Contains("dx has 7 elements (expected 8)", ex.Message);
    }
}
