namespace NormNet.Cli.Experiments;

/// <summary>Two-feature logistic regression without bias (features centred), solved by full-batch gradient descent:
/// the small convex problem on which input scaling's effect on the cost surface can be seen and measured exactly.</summary>
internal sealed class LogisticProblem
{
    public const double Tolerance = 1e-4;
    private const int StabilityIterations = 200;
    private readonly double[] _x1, _x2, _s;

    private LogisticProblem(double[] x1, double[] x2, double[] s)
    {
        (_x1, _x2, _s) = (x1, x2, s);
        Optimum = Newton();
        MinimumCost = Cost(Optimum.W1, Optimum.W2);
    }

    public (double W1, double W2) Optimum { get; }
    public double MinimumCost { get; }

    /// <summary>Two overlapping Gaussian classes (labels ±1) in two features of similar spread, centred.</summary>
    public static LogisticProblem Generate(int n, ulong seed)
    {
        var rng = new Rng(seed);
        double[] x1 = new double[n], x2 = new double[n], s = new double[n];
        for (int i = 0; i < n; i++)
        {
            s[i] = i % 2 == 0 ? 1 : -1;
            x1[i] = 0.8 * s[i] + rng.NextNormal();
            x2[i] = 0.5 * s[i] + 0.7 * rng.NextNormal();
        }
        Center(x1);
        Center(x2);
        return new LogisticProblem(x1, x2, s);
    }

    public LogisticProblem Scaled(double factor) => new(_x1, _x2.Select(v => v * factor).ToArray(), _s);

    public LogisticProblem Standardized() => new(Standardize(_x1), Standardize(_x2), _s);

    // cost = mean softplus(-s * (w1 x1 + w2 x2)), written stably
    public double Cost(double w1, double w2)
    {
        double sum = 0;
        for (int i = 0; i < _s.Length; i++)
        {
            double z = -_s[i] * (w1 * _x1[i] + w2 * _x2[i]);
            sum += Math.Max(z, 0) + Math.Log(1 + Math.Exp(-Math.Abs(z)));
        }
        return sum / _s.Length;
    }

    private (double G1, double G2, double H11, double H12, double H22) Derivatives(double w1, double w2)
    {
        double g1 = 0, g2 = 0, h11 = 0, h12 = 0, h22 = 0;
        for (int i = 0; i < _s.Length; i++)
        {
            double z = _s[i] * (w1 * _x1[i] + w2 * _x2[i]);
            double p = 1 / (1 + Math.Exp(z)); // sigmoid(-z)
            g1 -= _s[i] * _x1[i] * p;
            g2 -= _s[i] * _x2[i] * p;
            double q = p * (1 - p);
            h11 += q * _x1[i] * _x1[i];
            h12 += q * _x1[i] * _x2[i];
            h22 += q * _x2[i] * _x2[i];
        }
        int n = _s.Length;
        return (g1 / n, g2 / n, h11 / n, h12 / n, h22 / n);
    }

    private (double, double) Newton()
    {
        double w1 = 0, w2 = 0;
        for (int k = 0; k < 100; k++)
        {
            var (g1, g2, h11, h12, h22) = Derivatives(w1, w2);
            double det = h11 * h22 - h12 * h12;
            w1 -= (h22 * g1 - h12 * g2) / det;
            w2 -= (h11 * g2 - h12 * g1) / det;
        }
        return (w1, w2);
    }

    /// <summary>Ratio of the Hessian's eigenvalues at the minimum: 1 for a round bowl.</summary>
    public double ConditionNumber()
    {
        var (_, _, a, b, d) = Derivatives(Optimum.W1, Optimum.W2);
        double mean = (a + d) / 2, diff = Math.Sqrt((a - d) * (a - d) / 4 + b * b);
        return (mean + diff) / (mean - diff);
    }

    /// <summary>A start as far from the minimum as a (-2, +1.5) offset in standardized units.</summary>
    public (double W1, double W2) StartPoint() => (Optimum.W1 - 2 / Std(_x1), Optimum.W2 + 1.5 / Std(_x2));

    public List<(double W1, double W2, double Cost)> Descend(double lr, int iterations, (double W1, double W2) start)
    {
        var (w1, w2) = start;
        var path = new List<(double, double, double)> { (w1, w2, Cost(w1, w2)) };
        for (int k = 0; k < iterations; k++)
        {
            var (g1, g2, _, _, _) = Derivatives(w1, w2);
            w1 -= lr * g1;
            w2 -= lr * g2;
            path.Add((w1, w2, Cost(w1, w2)));
        }
        return path;
    }

    private static IEnumerable<double> Grid() => Enumerable.Range(-48, 64).Select(k => Math.Pow(10, k / 4.0));

    /// <summary>The largest rate of a log grid (4 per decade) for which 200 steps never raise the cost.</summary>
    public double LargestStableLearningRate()
    {
        double best = double.NaN;
        foreach (double lr in Grid())
        {
            var path = Descend(lr, StabilityIterations, StartPoint());
            bool stable = path.Zip(path.Skip(1)).All(p => double.IsFinite(p.Second.Cost) && p.Second.Cost <= p.First.Cost + 1e-12);
            if (stable) best = lr;
        }
        return best;
    }

    /// <summary>The number of rates <see cref="FastestConvergence"/> tries.</summary>
    public const int RatesTried = 8;

    /// <summary>Among stable grid rates, the one that reaches the tolerance in the fewest iterations (NaN: none within the budget).
    /// <paramref name="tick"/> gets the iterations done so far (over all rates tried) every 1,000 iterations.</summary>
    public (double LearningRate, double Iterations) FastestConvergence(double maxStable, int maxIterations, Action<long>? tick = null)
    {
        long done = 0;
        (double Lr, double It) best = (maxStable, double.NaN);
        foreach (double lr in Grid().Where(l => l <= maxStable * (1 + 1e-9)).Reverse().Take(RatesTried))
        {
            var (w1, w2) = StartPoint();
            int limit = double.IsNaN(best.It) ? maxIterations : (int)best.It;
            for (int k = 1; k <= limit; k++)
            {
                var (g1, g2, _, _, _) = Derivatives(w1, w2);
                w1 -= lr * g1;
                w2 -= lr * g2;
                if (++done % 1000 == 0) tick?.Invoke(done);
                if (Cost(w1, w2) - MinimumCost < Tolerance)
                {
                    if (double.IsNaN(best.It) || k < best.It) best = (lr, k);
                    break;
                }
            }
        }
        return best;
    }

    /// <summary>A square window (equal units on both axes) around the path and the minimum.</summary>
    public (double Lo1, double Hi1, double Lo2, double Hi2) Window(double[] w1, double[] w2)
    {
        double lo1 = Math.Min(w1.Min(), Optimum.W1), hi1 = Math.Max(w1.Max(), Optimum.W1);
        double lo2 = Math.Min(w2.Min(), Optimum.W2), hi2 = Math.Max(w2.Max(), Optimum.W2);
        double half = 0.6 * Math.Max(hi1 - lo1, hi2 - lo2);
        double c1 = (lo1 + hi1) / 2, c2 = (lo2 + hi2) / 2;
        return (c1 - half, c1 + half, c2 - half, c2 + half);
    }

    private static void Center(double[] v)
    {
        double m = v.Average();
        for (int i = 0; i < v.Length; i++) v[i] -= m;
    }

    private static double Std(double[] v) => Math.Sqrt(v.Select(x => x * x).Average());

    private static double[] Standardize(double[] v)
    {
        double s = Std(v);
        return v.Select(x => x / s).ToArray();
    }
}
