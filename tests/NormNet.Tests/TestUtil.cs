using NormNet.Layers;
using NormNet.Serialization;

namespace NormNet.Tests;

/// <summary>Seeded data and tolerance checks shared by the tests.</summary>
internal static class TestUtil
{
    public static float[] RandomNormal(int n, int seed, double mean = 0, double std = 1)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            a[i] = (float)(mean + std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return a;
    }

    public static double[] RandomNormalDouble(int n, int seed, double mean = 0, double std = 1) =>
        RandomNormal(n, seed, mean, std).Select(v => (double)v).ToArray();

    public static double[] ToDouble(ReadOnlySpan<float> a)
    {
        var r = new double[a.Length];
        for (int i = 0; i < a.Length; i++) r[i] = a[i];
        return r;
    }

    public static double MaxAbs(ReadOnlySpan<double> a)
    {
        double m = 0;
        foreach (var v in a) m = Math.Max(m, Math.Abs(v));
        return m;
    }

    public static double MaxAbs(ReadOnlySpan<float> a) => MaxAbs(ToDouble(a));

    /// <summary>Asserts max |actual - expected| &lt;= tol * max(scale floor, max |expected|), naming the worst element.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double tol, string what, double floor = 1e-12)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        double scale = Math.Max(floor, MaxAbs(expected));
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(expected[i] - actual[i]);
            if (double.IsNaN(d)) { worst = double.PositiveInfinity; at = i; break; }
            if (d > worst) { worst = d; at = i; }
        }
        Assert.True(worst <= tol * scale,
            $"{what}: worst |diff| {worst:G4} at [{at}] (expected {(at >= 0 ? expected[at] : 0):G9}, got {(at >= 0 ? actual[at] : 0):G9}) exceeds {tol:G2} x scale {scale:G4}");
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tol, string what, double floor = 1e-12) =>
        AssertClose(ToDouble(expected), ToDouble(actual), tol, what, floor);

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double tol, string what, double floor = 1e-12) =>
        AssertClose(expected, ToDouble(actual), tol, what, floor);

    public static string GoldenPath(string file) => Path.Combine(AppContext.BaseDirectory, "Golden", file);

    public static SafeTensorsFile LoadGolden(string file) => SafeTensors.Load(GoldenPath(file));

    /// <summary>Permutes an (N, C, H, W) array to (N, H, W, C).</summary>
    public static float[] ToChannelsLast(ReadOnlySpan<float> x, int n, int c, int h, int w)
    {
        var r = new float[x.Length];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
                for (int y = 0; y < h; y++)
                    for (int z = 0; z < w; z++)
                        r[((i * h + y) * w + z) * c + j] = x[((i * c + j) * h + y) * w + z];
        return r;
    }

    /// <summary>Runs <paramref name="action"/> on this thread with the kernel thread count set to <paramref name="threads"/>
    /// (a scope of this thread's: tests running beside it keep their own settings).</summary>
    public static T WithThreads<T>(int threads, Func<T> action)
    {
        using var scope = global::NormNet.Threading.ComputeSettings.Use(global::NormNet.Threading.ComputeSettings.Default.WithMaxThreads(threads));
        return action();
    }

    /// <summary>Gives every parameter and running statistic a random, non-trivial value (variances positive).</summary>
    public static void RandomizeState(Module model, int seed)
    {
        foreach (var (name, tensor, _) in model.StateEntries())
        {
            if (tensor is null) continue;
            var values = RandomNormal(tensor.Length, seed++, std: 0.5);
            if (name.EndsWith("running_var", StringComparison.Ordinal) || name.EndsWith(".weight", StringComparison.Ordinal) && tensor.Rank == 1)
                values = values.Select(v => 0.5f + Math.Abs(v)).ToArray();
            values.CopyTo(tensor.Span);
        }
    }
}
