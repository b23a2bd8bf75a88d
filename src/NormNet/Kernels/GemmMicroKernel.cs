using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormNet.Kernels;

/// <summary>
/// A register-blocked GEMM micro-kernel: it multiplies one packed panel of A (Mr rows) by one packed panel
/// of B (Nr columns) over kc steps, keeping the Mr x Nr tile of C in vector registers.
/// </summary>
/// <remarks>Every element of the tile is one FMA chain over p = 0..kc-1 in order, whatever the tile's
/// position, size or vector width; that is what makes results independent of tiling and thread count.</remarks>
internal unsafe interface IGemmKernel
{
    /// <summary>Rows of the tile (the A panel's width).</summary>
    static abstract int Mr { get; }
    /// <summary>Columns of the tile (the B panel's width), two vectors.</summary>
    static abstract int Nr { get; }
    /// <summary>Whether the kernel runs in hardware here.</summary>
    static abstract bool IsSupported { get; }

    // a: kc x Mr packed (a[p*Mr + i]); b: kc x Nr with row stride ldb (b[p*ldb + j]: Nr when packed); c: Mr x Nr with row stride ldc
    /// <summary>c = alpha * a * b + beta * c on a full tile; beta = 0 does not read c.</summary>
    static abstract void Run(int kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta);

    // a: the packed panel at row i (a[p*Mr]); b: kc x Nr with row stride ldb; c: 1 x Nr
    /// <summary>Row i of <see cref="Run"/>'s tile alone, with the same rounding (<see cref="RowKernel{TS, TV}"/>).</summary>
    static abstract void RunRow(int kc, float* a, float* b, nint ldb, float* c, float alpha, float beta);

    // a: as RunRow; panels: four kc x Nr panels of B, each with its row stride, and the 1 x Nr row of C each goes to
    /// <summary><see cref="RunRow"/> over four panels at once, with the same rounding.</summary>
    static abstract void RunRow4(int kc, float* a, RowPanels* panels, float alpha, float beta);

    /// <summary>Whether <see cref="RunRow4Masked"/> runs here (16-wide vectors with AVX-512 masked loads).</summary>
    static abstract bool MaskedRows { get; }

    // as RunRow4, panel 3 read in place with only its first cols3 (< Nr) columns loaded (the loads masked: nothing past them is read)
    /// <summary><see cref="RunRow4"/> with a partial last panel read where it lies instead of packed, with the same rounding.</summary>
    static abstract void RunRow4Masked(int kc, float* a, RowPanels* panels, int cols3, float alpha, float beta);

    // a: kc x Mr packed, first 4 rows used (a[p*Mr + i], i < 4); b: kc x Nr with row stride ldb; c: 4 x Nr with row stride ldc
    /// <summary>The first four rows of <see cref="Run"/>'s tile, with the same rounding: an edge tile of 4 to Mr - 1 rows
    /// computes these in one pass instead of a whole padded tile.</summary>
    static abstract void RunFourRows(int kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta);

    // a: kc x Mr packed; b: kc x Nr with row stride ldb, only its first Nr/2 columns used; c: Mr x Nr/2 with row stride ldc
    /// <summary>The left half of <see cref="Run"/>'s tile, for a last panel of at most Nr/2 columns (half the work).</summary>
    static abstract void RunHalf(int kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta);
}

/// <summary>8 rows x 2 vectors (8 x 32 with Vector512): 16 accumulators; per step 2 loads of B and 8 broadcasts of A.</summary>
internal readonly unsafe struct Kernel8x2<TS, TV> : IGemmKernel where TS : ISimd<TV> where TV : struct
{
    public static int Mr => 8;
    public static int Nr => 2 * TS.Width;
    public static bool IsSupported => TS.IsSupported;

    public static void RunRow(int kc, float* a, float* b, nint ldb, float* c, float alpha, float beta) =>
        RowKernel<TS, TV>.Run(kc, a, 8, b, ldb, c, alpha, beta);

    public static void RunRow4(int kc, float* a, RowPanels* panels, float alpha, float beta) =>
        RowKernel<TS, TV>.Run4(kc, a, 8, panels, alpha, beta);

    public static bool MaskedRows => RowKernel<TS, TV>.Masked;

    public static void RunRow4Masked(int kc, float* a, RowPanels* panels, int cols3, float alpha, float beta) =>
        RowKernel<TS, TV>.Run4Masked(kc, a, 8, panels, cols3, alpha, beta);

    public static void RunFourRows(int kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta) =>
        RowKernel<TS, TV>.FourRows(kc, a, 8, b, ldb, c, ldc, alpha, beta);

    // a: kc x 8; b: kc x 2W (row stride ldb); c: 8 x 2W (row stride ldc)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        TV c00 = TS.Zero, c01 = TS.Zero, c10 = TS.Zero, c11 = TS.Zero, c20 = TS.Zero, c21 = TS.Zero, c30 = TS.Zero, c31 = TS.Zero;
        TV c40 = TS.Zero, c41 = TS.Zero, c50 = TS.Zero, c51 = TS.Zero, c60 = TS.Zero, c61 = TS.Zero, c70 = TS.Zero, c71 = TS.Zero;
        int w = TS.Width;
        for (int p = 0; p < kc; p++)
        {
            // acc[i, j] = fma(a[p, i], b[p, j], acc[i, j])
            TV b0 = TS.Load(b), b1 = TS.Load(b + w);
            TV ai;
            ai = TS.Broadcast(a[0]); c00 = TS.MulAdd(ai, b0, c00); c01 = TS.MulAdd(ai, b1, c01);
            ai = TS.Broadcast(a[1]); c10 = TS.MulAdd(ai, b0, c10); c11 = TS.MulAdd(ai, b1, c11);
            ai = TS.Broadcast(a[2]); c20 = TS.MulAdd(ai, b0, c20); c21 = TS.MulAdd(ai, b1, c21);
            ai = TS.Broadcast(a[3]); c30 = TS.MulAdd(ai, b0, c30); c31 = TS.MulAdd(ai, b1, c31);
            ai = TS.Broadcast(a[4]); c40 = TS.MulAdd(ai, b0, c40); c41 = TS.MulAdd(ai, b1, c41);
            ai = TS.Broadcast(a[5]); c50 = TS.MulAdd(ai, b0, c50); c51 = TS.MulAdd(ai, b1, c51);
            ai = TS.Broadcast(a[6]); c60 = TS.MulAdd(ai, b0, c60); c61 = TS.MulAdd(ai, b1, c61);
            ai = TS.Broadcast(a[7]); c70 = TS.MulAdd(ai, b0, c70); c71 = TS.MulAdd(ai, b1, c71);
            a += 8;
            b += ldb;
        }
        TileStore<TS, TV>.Row(c00, c01, c, alpha, beta);
        TileStore<TS, TV>.Row(c10, c11, c + ldc, alpha, beta);
        TileStore<TS, TV>.Row(c20, c21, c + 2 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c30, c31, c + 3 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c40, c41, c + 4 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c50, c51, c + 5 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c60, c61, c + 6 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c70, c71, c + 7 * ldc, alpha, beta);
    }

    // a: kc x 8; b: kc x 2W (row stride ldb), first W columns used; c: 8 x W (row stride ldc)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunHalf(int kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        TV c0 = TS.Zero, c1 = TS.Zero, c2 = TS.Zero, c3 = TS.Zero, c4 = TS.Zero, c5 = TS.Zero, c6 = TS.Zero, c7 = TS.Zero;
        for (int p = 0; p < kc; p++)
        {
            // acc[i, j] = fma(a[p, i], b[p, j], acc[i, j])
            TV b0 = TS.Load(b);
            c0 = TS.MulAdd(TS.Broadcast(a[0]), b0, c0);
            c1 = TS.MulAdd(TS.Broadcast(a[1]), b0, c1);
            c2 = TS.MulAdd(TS.Broadcast(a[2]), b0, c2);
            c3 = TS.MulAdd(TS.Broadcast(a[3]), b0, c3);
            c4 = TS.MulAdd(TS.Broadcast(a[4]), b0, c4);
            c5 = TS.MulAdd(TS.Broadcast(a[5]), b0, c5);
            c6 = TS.MulAdd(TS.Broadcast(a[6]), b0, c6);
            c7 = TS.MulAdd(TS.Broadcast(a[7]), b0, c7);
            a += 8;
            b += ldb;
        }
        TileStore<TS, TV>.Half(c0, c, alpha, beta);
        TileStore<TS, TV>.Half(c1, c + ldc, alpha, beta);
        TileStore<TS, TV>.Half(c2, c + 2 * ldc, alpha, beta);
        TileStore<TS, TV>.Half(c3, c + 3 * ldc, alpha, beta);
        TileStore<TS, TV>.Half(c4, c + 4 * ldc, alpha, beta);
        TileStore<TS, TV>.Half(c5, c + 5 * ldc, alpha, beta);
        TileStore<TS, TV>.Half(c6, c + 6 * ldc, alpha, beta);
        TileStore<TS, TV>.Half(c7, c + 7 * ldc, alpha, beta);
    }
}

/// <summary>6 rows x 2 vectors (6 x 16 with Vector256): 12 accumulators, which fit the 16 registers of AVX2.</summary>
internal readonly unsafe struct Kernel6x2<TS, TV> : IGemmKernel where TS : ISimd<TV> where TV : struct
{
    public static int Mr => 6;
    public static int Nr => 2 * TS.Width;
    public static bool IsSupported => TS.IsSupported;

    public static void RunRow(int kc, float* a, float* b, nint ldb, float* c, float alpha, float beta) =>
        RowKernel<TS, TV>.Run(kc, a, 6, b, ldb, c, alpha, beta);

    public static void RunRow4(int kc, float* a, RowPanels* panels, float alpha, float beta) =>
        RowKernel<TS, TV>.Run4(kc, a, 6, panels, alpha, beta);

    public static bool MaskedRows => RowKernel<TS, TV>.Masked;

    public static void RunRow4Masked(int kc, float* a, RowPanels* panels, int cols3, float alpha, float beta) =>
        RowKernel<TS, TV>.Run4Masked(kc, a, 6, panels, cols3, alpha, beta);

    public static void RunFourRows(int kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta) =>
        RowKernel<TS, TV>.FourRows(kc, a, 6, b, ldb, c, ldc, alpha, beta);

    // a: kc x 6; b: kc x 2W (row stride ldb); c: 6 x 2W (row stride ldc)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        TV c00 = TS.Zero, c01 = TS.Zero, c10 = TS.Zero, c11 = TS.Zero, c20 = TS.Zero, c21 = TS.Zero, c30 = TS.Zero, c31 = TS.Zero;
        TV c40 = TS.Zero, c41 = TS.Zero, c50 = TS.Zero, c51 = TS.Zero;
        int w = TS.Width;
        for (int p = 0; p < kc; p++)
        {
            // acc[i, j] = fma(a[p, i], b[p, j], acc[i, j])
            TV b0 = TS.Load(b), b1 = TS.Load(b + w);
            TV ai;
            ai = TS.Broadcast(a[0]); c00 = TS.MulAdd(ai, b0, c00); c01 = TS.MulAdd(ai, b1, c01);
            ai = TS.Broadcast(a[1]); c10 = TS.MulAdd(ai, b0, c10); c11 = TS.MulAdd(ai, b1, c11);
            ai = TS.Broadcast(a[2]); c20 = TS.MulAdd(ai, b0, c20); c21 = TS.MulAdd(ai, b1, c21);
            ai = TS.Broadcast(a[3]); c30 = TS.MulAdd(ai, b0, c30); c31 = TS.MulAdd(ai, b1, c31);
            ai = TS.Broadcast(a[4]); c40 = TS.MulAdd(ai, b0, c40); c41 = TS.MulAdd(ai, b1, c41);
            ai = TS.Broadcast(a[5]); c50 = TS.MulAdd(ai, b0, c50); c51 = TS.MulAdd(ai, b1, c51);
            a += 6;
            b += ldb;
        }
        TileStore<TS, TV>.Row(c00, c01, c, alpha, beta);
        TileStore<TS, TV>.Row(c10, c11, c + ldc, alpha, beta);
        TileStore<TS, TV>.Row(c20, c21, c + 2 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c30, c31, c + 3 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c40, c41, c + 4 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c50, c51, c + 5 * ldc, alpha, beta);
    }

    // a: kc x 6; b: kc x 2W (row stride ldb), first W columns used; c: 6 x W (row stride ldc)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunHalf(int kc, float* a, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        TV c0 = TS.Zero, c1 = TS.Zero, c2 = TS.Zero, c3 = TS.Zero, c4 = TS.Zero, c5 = TS.Zero;
        for (int p = 0; p < kc; p++)
        {
            // acc[i, j] = fma(a[p, i], b[p, j], acc[i, j])
            TV b0 = TS.Load(b);
            c0 = TS.MulAdd(TS.Broadcast(a[0]), b0, c0);
            c1 = TS.MulAdd(TS.Broadcast(a[1]), b0, c1);
            c2 = TS.MulAdd(TS.Broadcast(a[2]), b0, c2);
            c3 = TS.MulAdd(TS.Broadcast(a[3]), b0, c3);
            c4 = TS.MulAdd(TS.Broadcast(a[4]), b0, c4);
            c5 = TS.MulAdd(TS.Broadcast(a[5]), b0, c5);
            a += 6;
            b += ldb;
        }
        TileStore<TS, TV>.Half(c0, c, alpha, beta);
        TileStore<TS, TV>.Half(c1, c + ldc, alpha, beta);
        TileStore<TS, TV>.Half(c2, c + 2 * ldc, alpha, beta);
        TileStore<TS, TV>.Half(c3, c + 3 * ldc, alpha, beta);
        TileStore<TS, TV>.Half(c4, c + 4 * ldc, alpha, beta);
        TileStore<TS, TV>.Half(c5, c + 5 * ldc, alpha, beta);
    }
}

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
    // a: the packed panel at row i (a[p*mr]); b: kc x 2W (row stride ldb); c: 1 x 2W
    /// <summary>c[0 .. 2W) = alpha * sum over p of a[p*mr] b[p, ..] + beta * c, as row i of the full tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, int mr, float* b, nint ldb, float* c, float alpha, float beta)
    {
        TV c0 = TS.Zero, c1 = TS.Zero;
        int w = TS.Width;
        for (int p = 0; p < kc; p++)
        {
            // acc[j] = fma(a[p], b[p, j], acc[j])
            TV ai = TS.Broadcast(a[0]);
            c0 = TS.MulAdd(ai, TS.Load(b), c0);
            c1 = TS.MulAdd(ai, TS.Load(b + w), c1);
            a += mr;
            b += ldb;
        }
        TileStore<TS, TV>.Row(c0, c1, c, alpha, beta);
    }

    // a: as Run; panels: four kc x 2W panels of B (each its own row stride) and the 1 x 2W row of C each goes to
    /// <summary><see cref="Run"/> over four panels at once: eight independent FMA chains per step instead of two, so the
    /// step is bound by its loads rather than by the FMA latency of one chain; each element's chain and rounding are
    /// <see cref="Run"/>'s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run4(int kc, float* a, int mr, RowPanels* panels, float alpha, float beta)
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
            a += mr;
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
    public static void Run4Masked(int kc, float* a, int mr, RowPanels* panels, int cols3, float alpha, float beta)
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
            a += mr;
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

    // a: the packed panel (a[p*mr + i], i < 4 used); b: kc x 2W (row stride ldb); c: 4 x 2W (row stride ldc)
    /// <summary>Rows 0-3 of the full tile: eight FMA chains, each element's chain and rounding those of the full tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FourRows(int kc, float* a, int mr, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        TV c00 = TS.Zero, c01 = TS.Zero, c10 = TS.Zero, c11 = TS.Zero, c20 = TS.Zero, c21 = TS.Zero, c30 = TS.Zero, c31 = TS.Zero;
        int w = TS.Width;
        for (int p = 0; p < kc; p++)
        {
            // acc[i, j] = fma(a[p, i], b[p, j], acc[i, j])
            TV b0 = TS.Load(b), b1 = TS.Load(b + w);
            TV ai;
            ai = TS.Broadcast(a[0]); c00 = TS.MulAdd(ai, b0, c00); c01 = TS.MulAdd(ai, b1, c01);
            ai = TS.Broadcast(a[1]); c10 = TS.MulAdd(ai, b0, c10); c11 = TS.MulAdd(ai, b1, c11);
            ai = TS.Broadcast(a[2]); c20 = TS.MulAdd(ai, b0, c20); c21 = TS.MulAdd(ai, b1, c21);
            ai = TS.Broadcast(a[3]); c30 = TS.MulAdd(ai, b0, c30); c31 = TS.MulAdd(ai, b1, c31);
            a += mr;
            b += ldb;
        }
        TileStore<TS, TV>.Row(c00, c01, c, alpha, beta);
        TileStore<TS, TV>.Row(c10, c11, c + ldc, alpha, beta);
        TileStore<TS, TV>.Row(c20, c21, c + 2 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c30, c31, c + 3 * ldc, alpha, beta);
    }
}

/// <summary>Writes accumulated tile rows into C, applying alpha and beta (edge tiles: <c>GemmDriver.MergeEdge</c>, same rounding).</summary>
internal static unsafe class TileStore<TS, TV> where TS : ISimd<TV> where TV : struct
{
    // c[0 .. 2W) = acc * alpha (beta = 0, c not read) or fma(acc, alpha, beta * c)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Row(TV lo, TV hi, float* c, float alpha, float beta)
    {
        TV va = TS.Broadcast(alpha);
        if (beta == 0)
        {
            TS.Store(TS.Mul(lo, va), c);
            TS.Store(TS.Mul(hi, va), c + TS.Width);
        }
        else
        {
            TV vb = TS.Broadcast(beta);
            TS.Store(TS.MulAdd(lo, va, TS.Mul(vb, TS.Load(c))), c);
            TS.Store(TS.MulAdd(hi, va, TS.Mul(vb, TS.Load(c + TS.Width))), c + TS.Width);
        }
    }

    // c[0 .. W) = acc * alpha (beta = 0, c not read) or fma(acc, alpha, beta * c)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Half(TV acc, float* c, float alpha, float beta)
    {
        TV va = TS.Broadcast(alpha);
        if (beta == 0) TS.Store(TS.Mul(acc, va), c);
        else TS.Store(TS.MulAdd(acc, va, TS.Mul(TS.Broadcast(beta), TS.Load(c))), c);
    }
}
