using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormNet.Kernels;

/// <summary>Four panels of B for <see cref="IGemmKernel.RunRow4"/>: where each starts, its row stride (ldb in place, Nr when
/// packed), and the row of C (or scratch) its outputs go to.</summary>
internal unsafe struct RowPanels
{
    public float* B0, B1, B2, B3;
    public nint Stride0, Stride1, Stride2, Stride3;
    public float* C0, C1, C2, C3;

    /// <summary>Sets panel q.</summary>
    public void Set(int q, float* b, nint stride, float* c)
    {
        switch (q)
        {
            case 0: B0 = b; Stride0 = stride; C0 = c; break;
            case 1: B1 = b; Stride1 = stride; C1 = c; break;
            case 2: B2 = b; Stride2 = stride; C2 = c; break;
            default: B3 = b; Stride3 = stride; C3 = c; break;
        }
    }
}

/// <summary>One row of a tile: row <c>i</c> of any micro-kernel's tile computed alone, with the same FMA chain, for edge
/// tiles of fewer than <see cref="GemmDriver.RowTileRows"/> rows (a product with m = 1, a batch-1 Linear, would otherwise
/// compute 6 or 8 rows to keep one). 2 loads of B and 1 broadcast per 2 FMAs: load-bound, but without the wasted rows.</summary>
internal static unsafe class RowKernel<TS, TV> where TS : ISimd<TV> where TV : struct
{
    // a: row i of the A panel (a[p*kStep]); b: kc x 2W (row stride ldb); c: 1 x 2W
    /// <summary>c[0 .. 2W) = alpha * sum over p of a[p*kStep] b[p, ..] + beta * c, as row i of the full tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, nint kStep, float* b, nint ldb, float* c, float alpha, float beta)
    {
        TV c0 = TS.Zero, c1 = TS.Zero;
        int w = TS.Width;
        for (int p = 0; p < kc; p++)
        {
            // acc[j] = fma(a[p], b[p, j], acc[j])
            TV ai = TS.Broadcast(a[0]);
            c0 = TS.MulAdd(ai, TS.Load(b), c0);
            c1 = TS.MulAdd(ai, TS.Load(b + w), c1);
            a += kStep;
            b += ldb;
        }
        TileStore<TS, TV>.Row(c0, c1, c, alpha, beta);
    }

    // a: as Run; panels: four kc x 2W panels of B (each its own row stride) and the 1 x 2W row of C each goes to
    /// <summary><see cref="Run"/> over four panels at once: eight independent FMA chains per step instead of two, so the
    /// step is bound by its loads rather than by the FMA latency of one chain; each element's chain and rounding are
    /// <see cref="Run"/>'s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run4(int kc, float* a, nint kStep, RowPanels* panels, float alpha, float beta)
    {
        TV c00 = TS.Zero, c01 = TS.Zero, c10 = TS.Zero, c11 = TS.Zero, c20 = TS.Zero, c21 = TS.Zero, c30 = TS.Zero, c31 = TS.Zero;
        int w = TS.Width;
        float* b0 = panels->B0, b1 = panels->B1, b2 = panels->B2, b3 = panels->B3;
        nint s0 = panels->Stride0, s1 = panels->Stride1, s2 = panels->Stride2, s3 = panels->Stride3;
        for (int p = 0; p < kc; p++)
        {
            // acc[q, j] = fma(a[p], b_q[p, j], acc[q, j])
            TV ai = TS.Broadcast(a[0]);
            c00 = TS.MulAdd(ai, TS.Load(b0), c00);
            c01 = TS.MulAdd(ai, TS.Load(b0 + w), c01);
            c10 = TS.MulAdd(ai, TS.Load(b1), c10);
            c11 = TS.MulAdd(ai, TS.Load(b1 + w), c11);
            c20 = TS.MulAdd(ai, TS.Load(b2), c20);
            c21 = TS.MulAdd(ai, TS.Load(b2 + w), c21);
            c30 = TS.MulAdd(ai, TS.Load(b3), c30);
            c31 = TS.MulAdd(ai, TS.Load(b3 + w), c31);
            a += kStep;
            b0 += s0;
            b1 += s1;
            b2 += s2;
            b3 += s3;
        }
        TileStore<TS, TV>.Row(c00, c01, panels->C0, alpha, beta);
        TileStore<TS, TV>.Row(c10, c11, panels->C1, alpha, beta);
        TileStore<TS, TV>.Row(c20, c21, panels->C2, alpha, beta);
        TileStore<TS, TV>.Row(c30, c31, panels->C3, alpha, beta);
    }

    /// <summary>Whether <see cref="Run4Masked"/> runs: 16-wide vectors with AVX-512.</summary>
    public static bool Masked => typeof(TV) == typeof(Vector512<float>) && Avx512F.IsSupported;

    // as Run4; panel 3 has only cols3 (< 2W) columns, read in place: its loads masked to them (the other lanes 0, never stored)
    /// <summary><see cref="Run4"/> with a partial last panel read where it lies: each valid element's chain and rounding
    /// are <see cref="Run"/>'s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run4Masked(int kc, float* a, nint kStep, RowPanels* panels, int cols3, float alpha, float beta)
    {
        if (!Masked) throw new PlatformNotSupportedException("Masked row panels need AVX-512.");
        var index = Vector512<int>.Indices;
        var lo = Vector512.LessThan(index, Vector512.Create(cols3)).AsSingle();
        var hi = Vector512.LessThan(index, Vector512.Create(cols3 - 16)).AsSingle();
        var z = Vector512<float>.Zero;
        Vector512<float> c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        float* b0 = panels->B0, b1 = panels->B1, b2 = panels->B2, b3 = panels->B3;
        nint s0 = panels->Stride0, s1 = panels->Stride1, s2 = panels->Stride2, s3 = panels->Stride3;
        for (int p = 0; p < kc; p++)
        {
            // acc[q, j] = fma(a[p], b_q[p, j], acc[q, j])
            var ai = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(ai, Vector512.Load(b0), c00);
            c01 = Vector512.FusedMultiplyAdd(ai, Vector512.Load(b0 + 16), c01);
            c10 = Vector512.FusedMultiplyAdd(ai, Vector512.Load(b1), c10);
            c11 = Vector512.FusedMultiplyAdd(ai, Vector512.Load(b1 + 16), c11);
            c20 = Vector512.FusedMultiplyAdd(ai, Vector512.Load(b2), c20);
            c21 = Vector512.FusedMultiplyAdd(ai, Vector512.Load(b2 + 16), c21);
            c30 = Vector512.FusedMultiplyAdd(ai, Avx512F.MaskLoad(b3, lo, z), c30);
            c31 = Vector512.FusedMultiplyAdd(ai, Avx512F.MaskLoad(b3 + 16, hi, z), c31);
            a += kStep;
            b0 += s0;
            b1 += s1;
            b2 += s2;
            b3 += s3;
        }
        TileStore<Simd512, Vector512<float>>.Row(c00, c01, panels->C0, alpha, beta);
        TileStore<Simd512, Vector512<float>>.Row(c10, c11, panels->C1, alpha, beta);
        TileStore<Simd512, Vector512<float>>.Row(c20, c21, panels->C2, alpha, beta);
        TileStore<Simd512, Vector512<float>>.Row(c30, c31, panels->C3, alpha, beta);
    }

    // a: the A panel (a[i*rowStep + p*kStep], i < 4 used); b: kc x 2W (row stride ldb); c: 4 x 2W (row stride ldc)
    /// <summary>Rows 0-3 of the full tile: eight FMA chains, each element's chain and rounding those of the full tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FourRows(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        TV c00 = TS.Zero, c01 = TS.Zero, c10 = TS.Zero, c11 = TS.Zero, c20 = TS.Zero, c21 = TS.Zero, c30 = TS.Zero, c31 = TS.Zero;
        int w = TS.Width;
        nint r1 = rowStep, r2 = 2 * rowStep, r3 = 3 * rowStep;
        for (int p = 0; p < kc; p++)
        {
            // acc[i, j] = fma(a[i, p], b[p, j], acc[i, j])
            TV b0 = TS.Load(b), b1 = TS.Load(b + w);
            TV ai;
            ai = TS.Broadcast(a[0]); c00 = TS.MulAdd(ai, b0, c00); c01 = TS.MulAdd(ai, b1, c01);
            ai = TS.Broadcast(a[r1]); c10 = TS.MulAdd(ai, b0, c10); c11 = TS.MulAdd(ai, b1, c11);
            ai = TS.Broadcast(a[r2]); c20 = TS.MulAdd(ai, b0, c20); c21 = TS.MulAdd(ai, b1, c21);
            ai = TS.Broadcast(a[r3]); c30 = TS.MulAdd(ai, b0, c30); c31 = TS.MulAdd(ai, b1, c31);
            a += kStep;
            b += ldb;
        }
        TileStore<TS, TV>.Row(c00, c01, c, alpha, beta);
        TileStore<TS, TV>.Row(c10, c11, c + ldc, alpha, beta);
        TileStore<TS, TV>.Row(c20, c21, c + 2 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c30, c31, c + 3 * ldc, alpha, beta);
    }
}
