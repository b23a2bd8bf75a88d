using NormNet.Kernels;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>
/// Central-difference gradient checks of the per-sample normalization reference (GroupNorm, LayerNorm, InstanceNorm
/// layouts) in double, on L = sum(y * g) with a random upstream gradient g and at least 3 values per normalized group.
/// </summary>
public class SampleNormGradCheckTests
{
    /// <summary>(Outer, Groups, ChannelsPerGroup, Inner): GroupNorm, LayerNorm (Inner = 1), InstanceNorm (K = 1).</summary>
    public static TheoryData<int, int, int, int> Shapes => new() { { 2, 2, 2, 3 }, { 3, 1, 5, 1 }, { 2, 3, 1, 4 }, { 2, 2, 3, 1 } };

    [Theory, MemberData(nameof(Shapes))]
    public void Backward_MatchesNumericalGradient(int n, int g, int k, int s)
    {
        var shape = new SampleNormShape(n, g, k, s);
        Assert.True(shape.RowLength >= 3);
        int total = (int)shape.Elements, c = shape.Channels, rows = shape.Rows;
        var x = RandomNormalDouble(total, 1, 0.3, 1.5);
        var up = RandomNormalDouble(total, 2);
        var gamma = RandomNormalDouble(c, 3, 1, 0.4);
        var beta = RandomNormalDouble(c, 4);
        const double eps = 1e-3;

        double L(double[] xs, double[] gm, double[] bt)
        {
            var y = new double[total];
            SampleNormReference.Forward(xs, gm, bt, shape, eps, y, new double[rows], new double[rows], new double[rows]);
            double sum = 0;
            for (int i = 0; i < total; i++) sum += y[i] * up[i];
            return sum;
        }

        var yy = new double[total];
        double[] mean = new double[rows], inv = new double[rows];
        SampleNormReference.Forward(x, gamma, beta, shape, eps, yy, mean, inv, new double[rows]);
        var dx = new double[total];
        double[] dgamma = new double[c], dbeta = new double[c];
        SampleNormReference.Backward(up, x, gamma, mean, inv, shape, dx, dgamma, dbeta);

        Assert.True(MaxAbs(dx) > 1e-2, "the input gradient is trivially small: the check would prove nothing");
        BatchNormGradCheckTests.CheckNumeric(x, dx, xs => L(xs, gamma, beta), $"{shape} dx");
        BatchNormGradCheckTests.CheckNumeric(gamma, dgamma, gm => L(x, gm, beta), $"{shape} dgamma");
        BatchNormGradCheckTests.CheckNumeric(beta, dbeta, bt => L(x, gamma, bt), $"{shape} dbeta");
    }
}
