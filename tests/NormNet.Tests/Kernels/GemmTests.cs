using System.Runtime.Intrinsics;
using NormNet.Kernels;
using NormNet.Threading;
using Xunit.Abstractions;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Kernels;

/// <summary>The managed GEMM (every vector width) and the OpenBLAS backend against the double reference.</summary>
public class GemmTests(ITestOutputHelper output)
{
    public static TheoryData<Width> Widths => KernelWidths.Supported();

    private static IEnumerable<Width> SupportedWidths =>
        new[] { Width.W512, Width.W256, Width.W128, Width.Scalar }.Where(w => w switch
        {
            Width.W512 => Simd512.IsSupported, Width.W256 => Simd256.IsSupported, Width.W128 => Simd128.IsSupported, _ => true,
        });

    public static TheoryData<bool, bool> Transposes => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    /// <summary>The managed GEMM with the micro-kernel of one width (W512 is what <see cref="Gemm.Sgemm"/> runs here).</summary>
    private static void Sgemm(Width w, bool ta, bool tb, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        switch (w)
        {
            case Width.W512: Gemm.Managed<Kernel8x2<Simd512, Vector512<float>>>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case Width.W256: Gemm.Managed<Kernel6x2<Simd256, Vector256<float>>>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            case Width.W128: Gemm.Managed<Kernel6x2<Simd128, Vector128<float>>>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
            default: Gemm.Managed<Kernel6x2<SimdScalar, float>>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); break;
        }
    }

    /// <summary>A GEMM problem with random operands, its leading dimensions padded by <paramref name="pad"/>.</summary>
    private sealed class Problem
    {
        public readonly bool TA, TB;
        public readonly int M, N, K, Lda, Ldb, Ldc;
        public readonly float[] A, B, C0;

        public Problem(bool ta, bool tb, int m, int n, int k, int seed, int pad = 0)
        {
            (TA, TB, M, N, K) = (ta, tb, m, n, k);
            Lda = (ta ? m : k) + pad;
            Ldb = (tb ? k : n) + pad;
            Ldc = n + pad;
            A = RandomNormal(Math.Max(1, (ta ? k : m) * Lda), seed);
            B = RandomNormal(Math.Max(1, (tb ? n : k) * Ldb), seed + 1);
            C0 = RandomNormal(Math.Max(1, m * Ldc), seed + 2);
        }

        public float[] Run(Width w, float alpha, float beta, float[]? c = null)
        {
            c ??= (float[])C0.Clone();
            Sgemm(w, TA, TB, M, N, K, alpha, A, Lda, B, Ldb, beta, c, Ldc);
            return c;
        }

        public float[] Reference(float alpha, float beta, float[]? c = null)
        {
            c ??= (float[])C0.Clone();
            GemmReference.Sgemm(TA, TB, M, N, K, alpha, A, Lda, B, Ldb, beta, c, Ldc);
            return c;
        }

        public override string ToString() => $"{(TA ? "T" : "N")}{(TB ? "T" : "N")} {M}x{N}x{K}";
    }

    /// <summary>|actual - expected| &lt;= abs + rel * |expected| on every element of C, padding included
    /// (padding must be untouched); abs grows with k like float rounding does.</summary>
    private static void AssertGemmClose(float[] expected, float[] actual, int k, string what)
    {
        double abs = 1e-6 * (k + 1), rel = 1e-5;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], d = Math.Abs(e - actual[i]);
            if (!(d <= abs + rel * Math.Abs(e)))
                Assert.Fail($"{what}: element {i}: expected {e:G9}, got {actual[i]:G9} (|diff| {d:G3} > {abs + rel * Math.Abs(e):G3})");
        }
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void AllTransposes_MatchReference(bool ta, bool tb)
    {
        foreach (Width w in SupportedWidths)
        {
            var p = new Problem(ta, tb, 37, 53, 29, seed: 1);
            AssertGemmClose(p.Reference(1.3f, 0.5f), p.Run(w, 1.3f, 0.5f), p.K, $"{w} {p}");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void EverySmallShape_MatchesReference(Width w)
    {
        // every m, n in 1..70 with k = 1, 7 (under one step of 8) and 33 (one past a multiple of 8); all transposes
        // at W512 (what runs here), one in turn at the fallback widths (their packing is the same code)
        var a = RandomNormal(70 * 33, 11);
        var b = RandomNormal(70 * 33, 12);
        var c0 = RandomNormal(70 * 70, 13);
        var c = new float[c0.Length];
        var r = new float[c0.Length];
        foreach (int k in new[] { 1, 7, 33 })
            for (int m = 1; m <= 70; m++)
                for (int n = 1; n <= 70; n++)
                    for (int t = 0; t < 4; t++)
                    {
                        if (w != Width.W512 && t != (m + n + k) % 4) continue;
                        bool ta = (t & 1) != 0, tb = (t & 2) != 0;
                        int lda = ta ? m : k, ldb = tb ? k : n;
                        c0.CopyTo(c, 0);
                        c0.CopyTo(r, 0);
                        Sgemm(w, ta, tb, m, n, k, 0.75f, a, lda, b, ldb, 0.5f, c, n);
                        GemmReference.Sgemm(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, 0.5f, r, n);
                        for (int i = 0; i < m * n; i++)
                        {
                            double d = Math.Abs(r[i] - c[i]);
                            if (!(d <= 1e-6 * (k + 1) + 1e-5 * Math.Abs(r[i])))
                                Assert.Fail($"{w} {(ta ? "T" : "N")}{(tb ? "T" : "N")} {m}x{n}x{k}: element {i}: expected {r[i]:G9}, got {c[i]:G9}");
                        }
                    }
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void LargeShapes_CrossEveryBlockingBoundary(bool ta, bool tb)
    {
        // m > Mc (144), k > 2 Kc blocks (256), n not a multiple of the tile; then n > Nc (1024)
        var p = new Problem(ta, tb, 200, 530, 600, seed: 3);
        AssertGemmClose(p.Reference(1f, 1f), p.Run(Width.W512, 1f, 1f), p.K, p.ToString());
        var wide = new Problem(ta, tb, 19, 1100, 300, seed: 4);
        AssertGemmClose(wide.Reference(1f, 0f), wide.Run(Width.W512, 1f, 0f), wide.K, wide.ToString());
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void AlphaAndBeta_MatchReference(Width w)
    {
        foreach (float alpha in new[] { 1f, -0.75f, 2.5f })
            foreach (float beta in new[] { 0f, 1f, 0.5f })
            {
                var p = new Problem(true, false, 45, 67, 300, seed: 5);
                AssertGemmClose(p.Reference(alpha, beta), p.Run(w, alpha, beta), p.K, $"{w} {p} alpha {alpha} beta {beta}");
            }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void BetaZero_IgnoresNaNInC(Width w)
    {
        foreach (var (m, n, k) in new[] { (9, 40, 20), (64, 64, 300), (1, 1, 1) })
        {
            var p = new Problem(false, true, m, n, k, seed: 6);
            var nan = Enumerable.Repeat(float.NaN, p.C0.Length).ToArray();
            var zero = new float[p.C0.Length];
            AssertGemmClose(p.Reference(1.5f, 0f, zero), p.Run(w, 1.5f, 0f, nan), k, $"{w} {p} NaN C");
        }
        // alpha = 0 and k = 0 do not read A or B; beta = 0 still clears C
        var c = Enumerable.Repeat(float.NaN, 12).ToArray();
        Sgemm(w, false, false, 3, 4, 5, 0f, new float[15], 5, new float[20], 4, 0f, c, 4);
        Assert.All(c, v => Assert.Equal(0f, v));
        c = Enumerable.Repeat(2f, 12).ToArray();
        Sgemm(w, false, false, 3, 4, 0, 1f, [], 0, [], 4, 0.5f, c, 4);
        Assert.All(c, v => Assert.Equal(1f, v));
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void LeadingDimensions_SelectSubmatrices(bool ta, bool tb)
    {
        // padded rows: the padding of C must come back untouched (the tolerance check covers every element)
        foreach (var (m, n, k) in new[] { (13, 35, 17), (70, 100, 260) })
        {
            var p = new Problem(ta, tb, m, n, k, seed: 7, pad: 5);
            AssertGemmClose(p.Reference(0.5f, 1f), p.Run(Width.W512, 0.5f, 1f), k, $"{p} padded");
        }
    }

    [Fact]
    public void Results_AreBitIdenticalAcrossThreadCounts()
    {
        // the last two have small outputs (a batch-1 Linear), which split from less work (their columns among the workers)
        foreach (var (ta, tb, m, n, k) in new[] { (false, true, 60, 100, 784), (false, false, 64, 196, 288), (true, false, 200, 530, 600), (false, true, 128, 128, 3136),
                     (false, false, 1, 128, 3136), (false, true, 3, 200, 2000) })
        {
            if (m * n <= 1024) Assert.True(GemmDriver.Plan(m, n, k, 8, 32, 2, out _, out _, out _) > 1, $"{m}x{n}x{k} splits on 2 threads");
            var p = new Problem(ta, tb, m, n, k, seed: 8);
            var one = WithThreads(1, () => p.Run(Width.W512, 1f, 0.5f));
            foreach (int threads in new[] { 2, 3 })
            {
                var many = WithThreads(threads, () => p.Run(Width.W512, 1f, 0.5f));
                Assert.True(one.AsSpan().SequenceEqual(many), $"{p}: {threads} threads differ from 1");
            }
        }
    }

    /// <summary>A row of C does not depend on the other rows computed with it: a product of the first (or last) few rows of
    /// op(A) gives exactly those rows of the whole product, whether they run as a full tile, an edge tile or rows alone
    /// (batch 1 and batch 60 of a Linear give the same outputs). k = 300 is two k blocks.</summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void Rows_AreBitIdentical_WhateverRowsAreComputedWithThem(Width w)
    {
        // rows alone run four panels at once (RunRow4): n = 100 three full panels and a partial one, n = 300 groups of four
        // and a last group with a partial panel, n = 45 one full and a partial, n = 128 whole groups (at 16-wide vectors)
        foreach (int n in new[] { 100, 300, 45, 128 }) RowsAlone(w, n);
    }

    private static void RowsAlone(Width w, int n)
    {
        const int m = 60, k = 300;
        var a = RandomNormal(m * k, 21);
        var b = RandomNormal(k * n, 22);
        var c0 = RandomNormal(m * n, 23);
        for (int t = 0; t < 4; t++)
        {
            bool ta = (t & 1) != 0, tb = (t & 2) != 0;
            int lda = ta ? m : k, ldb = tb ? k : n;
            var whole = (float[])c0.Clone();
            Sgemm(w, ta, tb, m, n, k, 0.75f, a, lda, b, ldb, 0.5f, whole, n);
            foreach (var (first, rows) in new[] { (0, 1), (0, 2), (0, 4), (0, 5), (0, 9), (57, 3), (59, 1), (13, 4) })
            {
                var part = c0.AsSpan(first * n, rows * n).ToArray();
                // rows [first, first + rows) of op(A): rows of A, or columns of A when transposed
                var aFrom = a.AsSpan(ta ? first : first * lda);
                Sgemm(w, ta, tb, rows, n, k, 0.75f, aFrom, lda, b, ldb, 0.5f, part, n);
                Assert.True(part.AsSpan().SequenceEqual(whole.AsSpan(first * n, rows * n)),
                    $"{w} {(ta ? "T" : "N")}{(tb ? "T" : "N")}, n = {n}: rows {first}..{first + rows - 1} alone differ from the same rows of the {m}-row product");
            }
        }
    }

    /// <summary>B stored transposed or not gives the same bits: only where the product reads B from differs (packed
    /// from rows, packed from columns, or read in place up to 144 rows of op(A), a partial last panel by masked tiles with
    /// AVX-512), which is what FrozenLinear relies on. n = 45, 100 and 16 leave a last panel of at most half a tile at 16-wide
    /// vectors, n = 60 one of more; m = 60 and 150 add edge tiles of 4 and 6 rows.</summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void StoringBTransposed_ChangesNoBits(Width w)
    {
        const int k = 300; // two k blocks
        foreach (int n in new[] { 45, 60, 100, 16 })
            foreach (float beta in new[] { 0.5f, 0f })
                StoringBTransposed(w, n, k, beta);
    }

    private static void StoringBTransposed(Width w, int n, int k, float beta)
    {
        var b = RandomNormal(n * k, 31); // (n, k): op(B) = B^T
        var bt = new float[k * n];        // (k, n): op(B) = B^T as stored
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++) bt[p * n + j] = b[j * k + p];
        foreach (int m in new[] { 1, 3, 60, 144, 150 })
        {
            var a = RandomNormal(m * k, 32 + m);
            var c0 = RandomNormal(m * n, 33);
            var viaTranspose = (float[])c0.Clone();
            var inPlace = (float[])c0.Clone();
            Sgemm(w, false, true, m, n, k, 0.75f, a, k, b, k, beta, viaTranspose, n);
            Sgemm(w, false, false, m, n, k, 0.75f, a, k, bt, n, beta, inPlace, n);
            Assert.True(viaTranspose.AsSpan().SequenceEqual(inPlace), $"{w}, {m}x{n}, beta {beta}: B^T stored gives other bits than B transposed");
            Assert.NotEqual(c0, inPlace);
        }
    }

    /// <summary>A stored transposed or not gives the same bits: A^T is packed into panels, a row-major A is read where it lies
    /// (its last panel of 4 to Mr - 1 rows packed for the edge tiles). Shapes give every kind of tile at 8- and 6-row tiles:
    /// rows alone (m = 1, 3), a tail of 4-7 rows with full and partial panels of B (m = 11, 13, 58, 60), two row blocks
    /// (m = 150 > Mc), and a padded lda.</summary>
    [Theory]
    [MemberData(nameof(Widths))]
    public void StoringATransposed_ChangesNoBits(Width w)
    {
        const int k = 300; // two k blocks
        foreach (int n in new[] { 45, 100, 64 })
            foreach (int m in new[] { 1, 3, 11, 13, 58, 60, 150 })
                foreach (int pad in new[] { 0, 3 })
                {
                    int lda = k + pad;
                    var a = RandomNormal(m * lda, 40 + m);  // (m, lda): op(A) = A, read in place
                    var at = new float[k * m];              // (k, m): op(A) = (A^T)^T, packed
                    for (int i = 0; i < m; i++)
                        for (int p = 0; p < k; p++) at[p * m + i] = a[i * lda + p];
                    foreach (bool tb in new[] { false, true })
                    {
                        var b = RandomNormal(k * n, 41);
                        var c0 = RandomNormal(m * n, 42);
                        var inPlace = (float[])c0.Clone();
                        var packed = (float[])c0.Clone();
                        Sgemm(w, false, tb, m, n, k, 0.75f, a, lda, b, tb ? k : n, 0.5f, inPlace, n);
                        Sgemm(w, true, tb, m, n, k, 0.75f, at, m, b, tb ? k : n, 0.5f, packed, n);
                        Assert.True(packed.AsSpan().SequenceEqual(inPlace),
                            $"{w}, {(tb ? "NT" : "NN")} {m}x{n}x{k}, lda {lda}: A read in place gives other bits than A^T packed");
                        Assert.NotEqual(c0, inPlace);
                    }
                }
    }

    [Fact]
    public void Results_AreBitIdenticalAcrossVectorWidths()
    {
        // every element is the same FMA chain whatever the tile shape, so the widths agree exactly
        var p = new Problem(false, true, 70, 90, 600, seed: 9);
        var wide = p.Run(Width.W512, 0.9f, 0.5f);
        foreach (Width w in SupportedWidths)
            Assert.True(wide.AsSpan().SequenceEqual(p.Run(w, 0.9f, 0.5f)), $"{w} differs from W512");
    }

    [Fact]
    public void BadArguments_Throw()
    {
        float[] a = new float[6], b = new float[12], c = new float[8];
        // the valid call: (2 x 3) * (3 x 4)
        Gemm.Sgemm(false, false, 2, 4, 3, 1f, a, 3, b, 4, 0f, c, 4);
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, -1, 4, 3, 1f, a, 3, b, 4, 0f, c, 4));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, -4, 3, 1f, a, 3, b, 4, 0f, c, 4));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 4, -3, 1f, a, 3, b, 4, 0f, c, 4));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 4, 3, 1f, a.AsSpan(1), 3, b, 4, 0f, c, 4));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 4, 3, 1f, a, 3, b.AsSpan(1), 4, 0f, c, 4));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 4, 3, 1f, a, 3, b, 4, 0f, c.AsSpan(1), 4));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 4, 3, 1f, a, 2, b, 4, 0f, c, 4));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 4, 3, 1f, a, 3, b, 3, 0f, c, 4));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 4, 3, 1f, a, 3, b, 4, 0f, c, 3));
        // transposed: A stored 3 x 2 needs lda >= 2, B stored 4 x 3 needs ldb >= 3
        Gemm.Sgemm(true, true, 2, 4, 3, 1f, a, 2, b, 3, 0f, c, 4);
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(true, true, 2, 4, 3, 1f, a, 1, b, 3, 0f, c, 4));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(true, true, 2, 4, 3, 1f, a, 2, b, 2, 0f, c, 4));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(true, true, 2, 4, 3, 1f, a, 3, b, 3, 0f, c, 4));
    }

    [Fact]
    public void SteadyState_AllocatesNothing()
    {
        var shapes = new[] { new Problem(false, true, 60, 100, 784, 10), new Problem(true, false, 200, 530, 600, 11), new Problem(false, false, 7, 9, 5, 12) };
        var outputs = shapes.Select(p => (float[])p.C0.Clone()).ToArray();
        void Pass()
        {
            for (int i = 0; i < shapes.Length; i++)
                Gemm.Sgemm(shapes[i].TA, shapes[i].TB, shapes[i].M, shapes[i].N, shapes[i].K, 1f, shapes[i].A, shapes[i].Lda,
                    shapes[i].B, shapes[i].Ldb, 1f, outputs[i], shapes[i].Ldc);
        }
        WithThreads(2, () =>
        {
            for (int i = 0; i < 3; i++) Pass();
            SteadyStateAllocation.AssertNone(() =>
            {
                for (int i = 0; i < 20; i++) Pass();
            }, "20 passes over 3 products");
            return 0;
        });
    }

    [Fact]
    public void BackendNames_AreParsed()
    {
        Assert.Equal(GemmBackend.Managed, Gemm.BackendFromName(null));
        Assert.Equal(GemmBackend.Managed, Gemm.BackendFromName(" Managed "));
        Assert.Throws<InvalidOperationException>(() => Gemm.BackendFromName("mkl"));
        if (Gemm.IsOpenBlasAvailable) Assert.Equal(GemmBackend.OpenBlas, Gemm.BackendFromName("openblas"));
        else Assert.Throws<InvalidOperationException>(() => Gemm.BackendFromName("OpenBLAS"));
    }

    [Fact]
    public void OpenBlasBackend_MatchesReference_WhenLoadable()
    {
        // CI installs OpenBLAS (tools/setup/install-test-deps.sh), so there this test compares for real
        Assert.False(Environment.GetEnvironmentVariable("CI") == "true" && !Gemm.IsOpenBlasAvailable,
            "CI runs with OpenBLAS installed, but it cannot be loaded");
        if (!Gemm.IsOpenBlasAvailable)
        {
            output.WriteLine("OpenBLAS is not loadable here: selecting it must throw, and there is nothing to compare.");
            Assert.Throws<InvalidOperationException>(() => ComputeSettings.Default.WithGemmBackend(GemmBackend.OpenBlas));
            return;
        }
        using (ComputeSettings.Use(ComputeSettings.Default.WithGemmBackend(GemmBackend.OpenBlas)))
        {
            foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
            {
                var p = new Problem(ta, tb, 61, 97, 300, seed: 13, pad: 3);
                var c = (float[])p.C0.Clone();
                Gemm.Sgemm(p.TA, p.TB, p.M, p.N, p.K, 0.5f, p.A, p.Lda, p.B, p.Ldb, 0.5f, c, p.Ldc);
                AssertGemmClose(p.Reference(0.5f, 0.5f), c, p.K, $"OpenBLAS {p}");
            }
        }
    }
}
