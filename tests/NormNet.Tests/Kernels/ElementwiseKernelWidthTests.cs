using NormNet.Kernels;

namespace NormNet.Tests.Kernels;

/// <summary>The element-wise kernels (activations, SGD and Adam updates, addition) at every vector width this machine
/// runs, 128 bits included (ARM64's rung): every length from 1 to 70 (every tail) and one spanning several parallel
/// chunks, against double-precision formulas; ReLU and addition exactly.</summary>
public class ElementwiseKernelWidthTests
{
    public static TheoryData<Width> Widths => KernelWidths.Supported();

    private static IEnumerable<int> Lengths => Enumerable.Range(1, 70).Append(70_001);

    private static float[] RandomNormal(int n, int seed, float scale = 3f)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(scale * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble()))).ToArray();
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Activations_GiveAnElementTheSameBitsWhereverTheArrayEnds(Width w)
    {
        // a sample's outputs must not depend on the batch it runs in: element i of a prefix is element i of the whole
        float[] x = RandomNormal(70, 7);
        foreach (var kind in new[] { Activations.Kind.Relu, Activations.Kind.Sigmoid, Activations.Kind.Tanh })
        {
            var whole = new float[x.Length];
            Activations.Forward(w.ToSimd(), kind, x, whole);
            for (int n = 1; n < x.Length; n++)
            {
                var prefix = new float[n];
                Activations.Forward(w.ToSimd(), kind, x.AsSpan(0, n), prefix);
                Assert.Equal(whole[..n], prefix);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Activations_MatchTheFormulas_AtEveryTailLength(Width w)
    {
        foreach (var kind in new[] { Activations.Kind.Relu, Activations.Kind.Sigmoid, Activations.Kind.Tanh })
            foreach (int n in Lengths)
            {
                float[] x = RandomNormal(n, n), dy = RandomNormal(n, n + 1000), y = new float[n], dx = new float[n];
                Activations.Forward(w.ToSimd(), kind, x, y);
                Activations.Backward(w.ToSimd(), kind, dy, x, y, dx);
                for (int i = 0; i < n; i++)
                {
                    double f = kind switch { Activations.Kind.Relu => Math.Max(x[i], 0), Activations.Kind.Sigmoid => 1 / (1 + Math.Exp(-x[i])), _ => Math.Tanh(x[i]) };
                    double df = dy[i] * kind switch { Activations.Kind.Relu => x[i] > 0 ? 1 : 0, Activations.Kind.Sigmoid => y[i] * (1 - y[i]), _ => 1 - (double)y[i] * y[i] };
                    Assert.True(Math.Abs(y[i] - f) <= 1e-6 + 1e-6 * Math.Abs(f), $"{w} {kind} n={n} y[{i}]: {y[i]:G9}, expected {f:G9}");
                    Assert.True(Math.Abs(dx[i] - df) <= 1e-6 + 1e-5 * Math.Abs(df), $"{w} {kind} n={n} dx[{i}]: {dx[i]:G9}, expected {df:G9}");
                }
            }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void ReluAndAdd_AreExact_AtEveryWidth(Width w)
    {
        foreach (int n in Lengths)
        {
            float[] a = RandomNormal(n, n), b = RandomNormal(n, n + 7), sum = new float[n], relu = new float[n];
            Elementwise.Add(w.ToSimd(), a, b, sum);
            Activations.Forward(w.ToSimd(), Activations.Kind.Relu, a, relu);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(a[i] + b[i], sum[i]);
                Assert.Equal(Math.Max(a[i], 0f), relu[i]);
            }
        }
    }

    // The vector bodies fuse their multiply-adds and the scalar tails do not, so the widths (and positions within an
    // array) already differ in the last bits here: checked against the formulas in double, not against each other.
    [Theory]
    [MemberData(nameof(Widths))]
    public void SgdAndAdam_MatchTheFormulas_AtEveryTailLength(Width w)
    {
        const float lr = 0.1f, momentum = 0.9f, dampening = 0.1f, wd = 1e-2f;
        const float alr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
        const long step = 3;
        foreach (int n in Lengths)
            foreach (bool variant in new[] { false, true })
            {
                float[] p = RandomNormal(n, n), buf = RandomNormal(n, n + 1), g = RandomNormal(n, n + 2);
                float[] p0 = (float[])p.Clone(), buf0 = (float[])buf.Clone();
                OptimizerKernels.Sgd(w.ToSimd(), p, g, buf, lr, momentum, dampening, wd, nesterov: variant, first: false);
                for (int i = 0; i < n; i++)
                {
                    double d = g[i] + (double)wd * p0[i], b = momentum * (double)buf0[i] + (1 - (double)dampening) * d;
                    double expected = p0[i] - lr * (variant ? d + momentum * b : b);
                    AssertClose(b, buf[i], $"{w} sgd n={n} nesterov={variant} buf[{i}]");
                    AssertClose(expected, p[i], $"{w} sgd n={n} nesterov={variant} p[{i}]");
                }
                float[] m = RandomNormal(n, n + 3), v = RandomNormal(n, n + 4).Select(Math.Abs).ToArray();
                float[] m0 = (float[])m.Clone(), v0 = (float[])v.Clone();
                p0 = (float[])p.Clone();
                OptimizerKernels.Adam(w.ToSimd(), p, g, m, v, alr, beta1, beta2, eps, wd, decoupled: variant, step);
                double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
                for (int i = 0; i < n; i++)
                {
                    double pv = variant ? p0[i] * (1 - (double)alr * wd) : p0[i], gv = variant ? g[i] : g[i] + (double)wd * p0[i];
                    double mv = beta1 * (double)m0[i] + (1 - (double)beta1) * gv, vv = beta2 * (double)v0[i] + (1 - (double)beta2) * gv * gv;
                    double expected = pv - alr / bc1 * mv / (Math.Sqrt(vv) / Math.Sqrt(bc2) + eps);
                    AssertClose(mv, m[i], $"{w} adam n={n} decoupled={variant} m[{i}]");
                    AssertClose(vv, v[i], $"{w} adam n={n} decoupled={variant} v[{i}]");
                    AssertClose(expected, p[i], $"{w} adam n={n} decoupled={variant} p[{i}]");
                }
            }
    }

    private static void AssertClose(double expected, float actual, string what) =>
        Assert.True(Math.Abs(actual - expected) <= 1e-6 + 2e-6 * Math.Abs(expected), $"{what}: {actual:G9}, expected {expected:G9}");

    [Fact]
    public void TheWidestWidth_IsWhatThePublicKernelsRun()
    {
        // the dispatch ladder: 512 where AVX-512 runs, else 256, else 128 (ARM64, SSE), else scalar
        var expected = Simd512.IsSupported ? SimdWidth.W512 : Simd256.IsSupported ? SimdWidth.W256 : Simd128.IsSupported ? SimdWidth.W128 : SimdWidth.Scalar;
        Assert.Equal(expected, SimdDispatch.Widest);
        float[] x = RandomNormal(1000, 5), viaPublic = new float[1000], viaWidest = new float[1000];
        Activations.Forward(Activations.Kind.Sigmoid, x, viaPublic);
        Activations.Forward(SimdDispatch.Widest, Activations.Kind.Sigmoid, x, viaWidest);
        Assert.Equal(viaWidest, viaPublic);
        Assert.True(Simd128.IsSupported, "the 128-bit rung runs on every x64 and ARM64 machine .NET 10 supports");
    }
}
