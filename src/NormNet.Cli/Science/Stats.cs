namespace NormNet.Cli.Science;

/// <summary>A mean over seeds with its spread: standard deviation (n - 1 in the denominator) and the two-sided 95%
/// interval of the mean from Student's t with n - 1 degrees of freedom. With one value the spread is undefined (NaN).</summary>
internal readonly record struct Estimate(double Mean, double Sd, int N, double Low, double High)
{
    /// <summary>Whether an interval exists (at least two finite values).</summary>
    public bool HasInterval => N >= 2 && !double.IsNaN(Low);

    /// <summary>"m ± sd" with <paramref name="format"/> applied to each number (one value: just m).</summary>
    public string MeanSd(Func<double, string> format) =>
        N >= 2 ? $"{format(Mean)} ± {format(Sd)}" : format(Mean);

    /// <summary>"m [lo, hi]": the mean and its 95% interval (one value: just m).</summary>
    public string WithInterval(Func<double, string> format) =>
        HasInterval ? $"{format(Mean)} [95% CI {format(Low)}, {format(High)}]" : format(Mean);
}

/// <summary>The statistics the experiments report: mean, sample standard deviation, and the t-based 95% interval
/// of a mean, with the t quantile exact (to 3 decimals) for small samples.</summary>
internal static class Stats
{
    // t_{0.975, df} for df = 1..30 (standard tables)
    private static readonly double[] T975 =
    [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];

    public static double Mean(IReadOnlyList<double> x) => x.Count == 0 ? double.NaN : x.Sum() / x.Count;

    /// <summary>Sample standard deviation (denominator n - 1); NaN for fewer than two values.</summary>
    public static double Sd(IReadOnlyList<double> x)
    {
        if (x.Count < 2) return double.NaN;
        double m = Mean(x);
        return Math.Sqrt(x.Sum(v => (v - m) * (v - m)) / (x.Count - 1));
    }

    /// <summary>The 97.5% quantile of Student's t with <paramref name="df"/> degrees of freedom (two-sided 95%):
    /// a table up to 30, beyond it the Cornish-Fisher expansion around the normal quantile (error below 1e-4).</summary>
    public static double TQuantile975(int df)
    {
        if (df < 1) throw new ArgumentOutOfRangeException(nameof(df), df, "degrees of freedom must be at least 1.");
        if (df <= T975.Length) return T975[df - 1];
        const double z = 1.959963984540054;
        double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z, n = df;
        return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n)
                 + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * n * n * n);
    }

    /// <summary>Mean, sd and 95% t-interval of the finite values of <paramref name="values"/>.</summary>
    public static Estimate Estimate(IEnumerable<double> values)
    {
        var x = values.Where(double.IsFinite).ToArray();
        double m = Mean(x), sd = Sd(x);
        if (x.Length < 2) return new Estimate(m, sd, x.Length, double.NaN, double.NaN);
        double half = TQuantile975(x.Length - 1) * sd / Math.Sqrt(x.Length);
        return new Estimate(m, sd, x.Length, m - half, m + half);
    }
}
