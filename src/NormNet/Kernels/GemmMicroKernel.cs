using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormNet.Kernels;

/// <summary>
/// A register-blocked GEMM micro-kernel: it multiplies one packed panel of A (Mr rows) by one packed panel
/// of B (Nr columns) over kc steps, keeping the Mr x Nr tile of C in vector registers.
/// </summary>
/// <remarks>Every element of the tile is one FMA chain over p = 0..kc-1 in order, whatever the tile's
/// position, size or vector width; that is what makes results independent of tiling and thread count.
/// The A panel is read through two strides, element (i, p) at <c>a[i*rowStep + p*kStep]</c>: packed (1, Mr), or in place in a
/// row-major A (lda, 1), which gives the same products in the same order.</remarks>
internal unsafe interface IGemmKernel
{
    /// <summary>Rows of the tile (the A panel's width).</summary>
    static abstract int Mr { get; }
    /// <summary>Columns of the tile (the B panel's width), two vectors.</summary>
    static abstract int Nr { get; }
    /// <summary>Whether the kernel runs in hardware here.</summary>
    static abstract bool IsSupported { get; }

    // a: Mr x kc, a[i*rowStep + p*kStep]; b: kc x Nr with row stride ldb (b[p*ldb + j]: Nr when packed); c: Mr x Nr with row stride ldc
    /// <summary>c = alpha * a * b + beta * c on a full tile; beta = 0 does not read c.</summary>
    static abstract void Run(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, float* c, nint ldc, float alpha, float beta);

    // a: row i of the A panel (a[p*kStep]); b: kc x Nr with row stride ldb; c: 1 x Nr
    /// <summary>Row i of <see cref="Run"/>'s tile alone, with the same rounding (<see cref="RowKernel{TS, TV}"/>).</summary>
    static abstract void RunRow(int kc, float* a, nint kStep, float* b, nint ldb, float* c, float alpha, float beta);

    // a: as RunRow; panels: four kc x Nr panels of B, each with its row stride, and the 1 x Nr row of C each goes to
    /// <summary><see cref="RunRow"/> over four panels at once, with the same rounding.</summary>
    static abstract void RunRow4(int kc, float* a, nint kStep, RowPanels* panels, float alpha, float beta);

    /// <summary>Whether <see cref="RunRow4Masked"/> runs here (16-wide vectors with AVX-512 masked loads).</summary>
    static abstract bool MaskedRows { get; }

    // as RunRow4, panel 3 read in place with only its first cols3 (< Nr) columns loaded (the loads masked: nothing past them is read)
    /// <summary><see cref="RunRow4"/> with a partial last panel read where it lies instead of packed, with the same rounding.</summary>
    static abstract void RunRow4Masked(int kc, float* a, nint kStep, RowPanels* panels, int cols3, float alpha, float beta);

    /// <summary>Whether <see cref="RunMasked"/> runs here (8 x 32 tiles with AVX-512 masked loads and stores).</summary>
    static abstract bool MaskedTiles { get; }

    // a: as Run; b: kc x cols read in place (row stride ldb), 0 < cols < Nr; c: Mr x cols with row stride ldc
    /// <summary><see cref="Run"/> on a partial last panel of B read where it lies, loads and stores masked to its columns
    /// (<see cref="GemmMaskedTile"/>), with the same rounding.</summary>
    static abstract void RunMasked(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, int cols, float* c, nint ldc, float alpha, float beta);

    // a: as Run, first 4 rows used (a[i*rowStep + p*kStep], i < 4); b: kc x Nr with row stride ldb; c: 4 x Nr with row stride ldc
    /// <summary>The first four rows of <see cref="Run"/>'s tile, with the same rounding: an edge tile of 4 to Mr - 1 rows
    /// computes these in one pass instead of a whole padded tile.</summary>
    static abstract void RunFourRows(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, float* c, nint ldc, float alpha, float beta);

    // a: as Run; b: kc x Nr with row stride ldb, only its first Nr/2 columns used; c: Mr x Nr/2 with row stride ldc
    /// <summary>The left half of <see cref="Run"/>'s tile, for a last panel of at most Nr/2 columns (half the work).</summary>
    static abstract void RunHalf(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, float* c, nint ldc, float alpha, float beta);
}

/// <summary>8 rows x 2 vectors (8 x 32 with Vector512): 16 accumulators; per step 2 loads of B and 8 broadcasts of A.</summary>
internal readonly unsafe struct Kernel8x2<TS, TV> : IGemmKernel where TS : ISimd<TV> where TV : struct
{
    public static int Mr => 8;
    public static int Nr => 2 * TS.Width;
    public static bool IsSupported => TS.IsSupported;

    public static void RunRow(int kc, float* a, nint kStep, float* b, nint ldb, float* c, float alpha, float beta) =>
        RowKernel<TS, TV>.Run(kc, a, kStep, b, ldb, c, alpha, beta);

    public static void RunRow4(int kc, float* a, nint kStep, RowPanels* panels, float alpha, float beta) =>
        RowKernel<TS, TV>.Run4(kc, a, kStep, panels, alpha, beta);

    public static bool MaskedRows => RowKernel<TS, TV>.Masked;

    public static bool MaskedTiles => RowKernel<TS, TV>.Masked && GemmMaskedTile.IsSupported;

    public static void RunMasked(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, int cols, float* c, nint ldc, float alpha, float beta) =>
        GemmMaskedTile.Run(kc, a, rowStep, kStep, b, ldb, cols, c, ldc, alpha, beta);

    public static void RunRow4Masked(int kc, float* a, nint kStep, RowPanels* panels, int cols3, float alpha, float beta) =>
        RowKernel<TS, TV>.Run4Masked(kc, a, kStep, panels, cols3, alpha, beta);

    public static void RunFourRows(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, float* c, nint ldc, float alpha, float beta) =>
        RowKernel<TS, TV>.FourRows(kc, a, rowStep, kStep, b, ldb, c, ldc, alpha, beta);

    // a: 8 x kc (a[i*rowStep + p*kStep]); b: kc x 2W (row stride ldb); c: 8 x 2W (row stride ldc)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        TV c00 = TS.Zero, c01 = TS.Zero, c10 = TS.Zero, c11 = TS.Zero, c20 = TS.Zero, c21 = TS.Zero, c30 = TS.Zero, c31 = TS.Zero;
        TV c40 = TS.Zero, c41 = TS.Zero, c50 = TS.Zero, c51 = TS.Zero, c60 = TS.Zero, c61 = TS.Zero, c70 = TS.Zero, c71 = TS.Zero;
        int w = TS.Width;
        // rows 0-3 at a, rows 4-7 at a4, each 0 .. 3 row steps on
        float* a4 = a + 4 * rowStep;
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
            ai = TS.Broadcast(a4[0]); c40 = TS.MulAdd(ai, b0, c40); c41 = TS.MulAdd(ai, b1, c41);
            ai = TS.Broadcast(a4[r1]); c50 = TS.MulAdd(ai, b0, c50); c51 = TS.MulAdd(ai, b1, c51);
            ai = TS.Broadcast(a4[r2]); c60 = TS.MulAdd(ai, b0, c60); c61 = TS.MulAdd(ai, b1, c61);
            ai = TS.Broadcast(a4[r3]); c70 = TS.MulAdd(ai, b0, c70); c71 = TS.MulAdd(ai, b1, c71);
            a += kStep;
            a4 += kStep;
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

    // a: 8 x kc (a[i*rowStep + p*kStep]); b: kc x 2W (row stride ldb), first W columns used; c: 8 x W (row stride ldc)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunHalf(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        TV c0 = TS.Zero, c1 = TS.Zero, c2 = TS.Zero, c3 = TS.Zero, c4 = TS.Zero, c5 = TS.Zero, c6 = TS.Zero, c7 = TS.Zero;
        float* a4 = a + 4 * rowStep;
        nint r1 = rowStep, r2 = 2 * rowStep, r3 = 3 * rowStep;
        for (int p = 0; p < kc; p++)
        {
            // acc[i, j] = fma(a[i, p], b[p, j], acc[i, j])
            TV b0 = TS.Load(b);
            c0 = TS.MulAdd(TS.Broadcast(a[0]), b0, c0);
            c1 = TS.MulAdd(TS.Broadcast(a[r1]), b0, c1);
            c2 = TS.MulAdd(TS.Broadcast(a[r2]), b0, c2);
            c3 = TS.MulAdd(TS.Broadcast(a[r3]), b0, c3);
            c4 = TS.MulAdd(TS.Broadcast(a4[0]), b0, c4);
            c5 = TS.MulAdd(TS.Broadcast(a4[r1]), b0, c5);
            c6 = TS.MulAdd(TS.Broadcast(a4[r2]), b0, c6);
            c7 = TS.MulAdd(TS.Broadcast(a4[r3]), b0, c7);
            a += kStep;
            a4 += kStep;
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

    public static void RunRow(int kc, float* a, nint kStep, float* b, nint ldb, float* c, float alpha, float beta) =>
        RowKernel<TS, TV>.Run(kc, a, kStep, b, ldb, c, alpha, beta);

    public static void RunRow4(int kc, float* a, nint kStep, RowPanels* panels, float alpha, float beta) =>
        RowKernel<TS, TV>.Run4(kc, a, kStep, panels, alpha, beta);

    public static bool MaskedRows => RowKernel<TS, TV>.Masked;

    public static bool MaskedTiles => false;

    public static void RunMasked(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, int cols, float* c, nint ldc, float alpha, float beta) =>
        throw new PlatformNotSupportedException("Masked GEMM tiles are 8 x 32 (AVX-512).");

    public static void RunRow4Masked(int kc, float* a, nint kStep, RowPanels* panels, int cols3, float alpha, float beta) =>
        RowKernel<TS, TV>.Run4Masked(kc, a, kStep, panels, cols3, alpha, beta);

    public static void RunFourRows(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, float* c, nint ldc, float alpha, float beta) =>
        RowKernel<TS, TV>.FourRows(kc, a, rowStep, kStep, b, ldb, c, ldc, alpha, beta);

    // a: 6 x kc (a[i*rowStep + p*kStep]); b: kc x 2W (row stride ldb); c: 6 x 2W (row stride ldc)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        TV c00 = TS.Zero, c01 = TS.Zero, c10 = TS.Zero, c11 = TS.Zero, c20 = TS.Zero, c21 = TS.Zero, c30 = TS.Zero, c31 = TS.Zero;
        TV c40 = TS.Zero, c41 = TS.Zero, c50 = TS.Zero, c51 = TS.Zero;
        int w = TS.Width;
        // rows 0-2 at a, rows 3-5 at a3, each 0 .. 2 row steps on
        float* a3 = a + 3 * rowStep;
        nint r1 = rowStep, r2 = 2 * rowStep;
        for (int p = 0; p < kc; p++)
        {
            // acc[i, j] = fma(a[i, p], b[p, j], acc[i, j])
            TV b0 = TS.Load(b), b1 = TS.Load(b + w);
            TV ai;
            ai = TS.Broadcast(a[0]); c00 = TS.MulAdd(ai, b0, c00); c01 = TS.MulAdd(ai, b1, c01);
            ai = TS.Broadcast(a[r1]); c10 = TS.MulAdd(ai, b0, c10); c11 = TS.MulAdd(ai, b1, c11);
            ai = TS.Broadcast(a[r2]); c20 = TS.MulAdd(ai, b0, c20); c21 = TS.MulAdd(ai, b1, c21);
            ai = TS.Broadcast(a3[0]); c30 = TS.MulAdd(ai, b0, c30); c31 = TS.MulAdd(ai, b1, c31);
            ai = TS.Broadcast(a3[r1]); c40 = TS.MulAdd(ai, b0, c40); c41 = TS.MulAdd(ai, b1, c41);
            ai = TS.Broadcast(a3[r2]); c50 = TS.MulAdd(ai, b0, c50); c51 = TS.MulAdd(ai, b1, c51);
            a += kStep;
            a3 += kStep;
            b += ldb;
        }
        TileStore<TS, TV>.Row(c00, c01, c, alpha, beta);
        TileStore<TS, TV>.Row(c10, c11, c + ldc, alpha, beta);
        TileStore<TS, TV>.Row(c20, c21, c + 2 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c30, c31, c + 3 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c40, c41, c + 4 * ldc, alpha, beta);
        TileStore<TS, TV>.Row(c50, c51, c + 5 * ldc, alpha, beta);
    }

    // a: 6 x kc (a[i*rowStep + p*kStep]); b: kc x 2W (row stride ldb), first W columns used; c: 6 x W (row stride ldc)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunHalf(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, float* c, nint ldc, float alpha, float beta)
    {
        TV c0 = TS.Zero, c1 = TS.Zero, c2 = TS.Zero, c3 = TS.Zero, c4 = TS.Zero, c5 = TS.Zero;
        float* a3 = a + 3 * rowStep;
        nint r1 = rowStep, r2 = 2 * rowStep;
        for (int p = 0; p < kc; p++)
        {
            // acc[i, j] = fma(a[i, p], b[p, j], acc[i, j])
            TV b0 = TS.Load(b);
            c0 = TS.MulAdd(TS.Broadcast(a[0]), b0, c0);
            c1 = TS.MulAdd(TS.Broadcast(a[r1]), b0, c1);
            c2 = TS.MulAdd(TS.Broadcast(a[r2]), b0, c2);
            c3 = TS.MulAdd(TS.Broadcast(a3[0]), b0, c3);
            c4 = TS.MulAdd(TS.Broadcast(a3[r1]), b0, c4);
            c5 = TS.MulAdd(TS.Broadcast(a3[r2]), b0, c5);
            a += kStep;
            a3 += kStep;
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
