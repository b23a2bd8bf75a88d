using NormNet.Kernels;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>
/// Central-difference gradient checks of the double reference (which the fast kernels are held against),
/// on the loss L = sum(y * g) with a random upstream gradient g and at least 3 values per channel: with
/// g = 1 or two values per channel the true input gradient of BN is zero and a check proves nothing.
/// </summary>
public class BatchNormGradCheckTests
{
    private const double H = 1e-6;

    public static TheoryData<int, int, int> Shapes => new() { { 4, 3, 1 }, { 3, 2, 5 }, { 2, 3, 4 }, { 5, 1, 3 } };

    private static double Loss(double[] y, double[] g)
    {
        double s = 0;
        for (int i = 0; i < y.Length; i++) s += y[i] * g[i];
        return s;
    }

    [Theory, MemberData(nameof(Shapes))]
    public void TrainingBackward_MatchesNumericalGradient(int n, int c, int s)
    {
        var shape = new BatchNormShape(n, c, s);
        int total = (int)shape.Elements;
        var x = RandomNormalDouble(total, 1, 0.3, 1.5);
        var g = RandomNormalDouble(total, 2);
        var gamma = RandomNormalDouble(c, 3, 1, 0.4);
        var beta = RandomNormalDouble(c, 4);
        const double eps = 1e-3;

        double L(double[] xs, double[] gm, double[] bt)
        {
            var y = new double[total];
            BatchNormReference.TrainingForward(xs, gm, bt, shape, eps, y, new double[c], new double[c], new double[c]);
            return Loss(y, g);
        }

        var yy = new double[total];
        double[] mean = new double[c], inv = new double[c];
        BatchNormReference.TrainingForward(x, gamma, beta, shape, eps, yy, mean, inv, new double[c]);
        var dx = new double[total];
        double[] dgamma = new double[c], dbeta = new double[c];
        BatchNormReference.TrainingBackward(g, x, gamma, mean, inv, shape, dx, dgamma, dbeta);

        Assert.True(MaxAbs(dx) > 1e-2, "the input gradient is trivially small: the check would prove nothing");
        CheckNumeric(x, dx, xs => L(xs, gamma, beta), "dx");
        CheckNumeric(gamma, dgamma, gm => L(x, gm, beta), "dgamma");
        CheckNumeric(beta, dbeta, bt => L(x, gamma, bt), "dbeta");
    }

    [Theory, MemberData(nameof(Shapes))]
    public void InferenceBackward_MatchesNumericalGradient(int n, int c, int s)
    {
        var shape = new BatchNormShape(n, c, s);
        int total = (int)shape.Elements;
        var x = RandomNormalDouble(total, 5);
        var g = RandomNormalDouble(total, 6);
        var gamma = RandomNormalDouble(c, 7, 1, 0.4);
        var beta = RandomNormalDouble(c, 8);
        var rm = RandomNormalDouble(c, 9);
        var rv = RandomNormalDouble(c, 10).Select(v => 0.5 + v * v).ToArray();
        const double eps = 1e-5;

        double L(double[] xs, double[] gm, double[] bt)
        {
            var y = new double[total];
            BatchNormReference.InferenceForward(xs, gm, bt, rm, rv, shape, eps, y);
            return Loss(y, g);
        }

        var dx = new double[total];
        double[] dgamma = new double[c], dbeta = new double[c];
        BatchNormReference.InferenceBackward(g, x, gamma, rm, rv, shape, eps, dx, dgamma, dbeta);
        CheckNumeric(x, dx, xs => L(xs, gamma, beta), "eval dx");
        CheckNumeric(gamma, dgamma, gm => L(x, gm, beta), "eval dgamma");
        CheckNumeric(beta, dbeta, bt => L(x, gamma, bt), "eval dbeta");
    }

    /// <summary>Compares analytic gradients with (L(v + h) - L(v - h)) / 2h for every element of <paramref name="v"/>.</summary>
    internal static void CheckNumeric(double[] v, double[] analytic, Func<double[], double> loss, string what)
    {
        var numeric = new double[v.Length];
        for (int i = 0; i < v.Length; i++)
        {
            double saved = v[i];
            v[i] = saved + H;
            double up = loss(v);
            v[i] = saved - H;
            double down = loss(v);
            v[i] = saved;
            numeric[i] = (up - down) / (2 * H);
        }
        AssertClose(numeric, analytic, 1e-6, what, floor: 1);
    }
}
