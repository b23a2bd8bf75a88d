using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormNet.Kernels;

/// <summary>
/// The 8 x 32 tile of <see cref="Kernel8x2{TS, TV}"/> on a partial last panel of B read where it lies (AVX-512): its loads and
/// the stores into C are masked to the panel's columns, so nothing past them is read or written and the panel is not packed.
/// </summary>
/// <remarks>Measured, 1 thread: the paper MLP's 64 x 784 x 100 spent about 12 us of its 57 on its last 4 columns, of which
/// packing them (784 rows of a zero-padded 32-wide panel per call) and merging the edge tiles were the part this removes.
/// Each valid element is the full tile's FMA chain with its store's rounding, so the bits are the packed path's.</remarks>
internal static unsafe class GemmMaskedTile
{
    /// <summary>Whether it runs here.</summary>
    public static bool IsSupported => Avx512F.IsSupported;

    // a: 8 x kc (a[i*rowStep + p*kStep]); b: kc x cols in place (row stride ldb), 0 < cols < 32; c: 8 x cols (row stride ldc)
    /// <summary>c = alpha * a * b + beta * c on 8 rows and the first <paramref name="cols"/> columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, int cols, float* c, nint ldc, float alpha, float beta)
    {
        if (!IsSupported) throw new PlatformNotSupportedException("Masked GEMM tiles need AVX-512.");
        var index = Vector512<int>.Indices;
        var lo = Vector512.LessThan(index, Vector512.Create(cols)).AsSingle();
        var hi = Vector512.LessThan(index, Vector512.Create(cols - 16)).AsSingle();
        if (cols <= 16) Half(kc, a, rowStep, kStep, b, ldb, lo, c, ldc, alpha, beta);
        else Whole(kc, a, rowStep, kStep, b, ldb, hi, c, ldc, alpha, beta);
    }

    // as Run, cols <= 16: one masked vector per row
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Half(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, Vector512<float> mask, float* c, nint ldc, float alpha, float beta)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z, c6 = z, c7 = z;
        float* a4 = a + 4 * rowStep;
        nint r1 = rowStep, r2 = 2 * rowStep, r3 = 3 * rowStep;
        for (int p = 0; p < kc; p++)
        {
            // acc[i, j] = fma(a[i, p], b[p, j], acc[i, j]), j < cols
            var b0 = Avx512F.MaskLoad(b, mask, z);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r1]), b0, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r2]), b0, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r3]), b0, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[0]), b0, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[r1]), b0, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[r2]), b0, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[r3]), b0, c7);
            a += kStep;
            a4 += kStep;
            b += ldb;
        }
        Store(c0, c, mask, alpha, beta);
        Store(c1, c + ldc, mask, alpha, beta);
        Store(c2, c + 2 * ldc, mask, alpha, beta);
        Store(c3, c + 3 * ldc, mask, alpha, beta);
        Store(c4, c + 4 * ldc, mask, alpha, beta);
        Store(c5, c + 5 * ldc, mask, alpha, beta);
        Store(c6, c + 6 * ldc, mask, alpha, beta);
        Store(c7, c + 7 * ldc, mask, alpha, beta);
    }

    // as Run, 16 < cols < 32: a whole vector and a masked one per row
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Whole(int kc, float* a, nint rowStep, nint kStep, float* b, nint ldb, Vector512<float> hi, float* c, nint ldc, float alpha, float beta)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        Vector512<float> c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        float* a4 = a + 4 * rowStep;
        nint r1 = rowStep, r2 = 2 * rowStep, r3 = 3 * rowStep;
        for (int p = 0; p < kc; p++)
        {
            // acc[i, j] = fma(a[i, p], b[p, j], acc[i, j]), j < cols
            var b0 = Vector512.Load(b);
            var b1 = Avx512F.MaskLoad(b + 16, hi, z);
            Vector512<float> ai;
            ai = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(ai, b0, c00); c01 = Vector512.FusedMultiplyAdd(ai, b1, c01);
            ai = Vector512.Create(a[r1]); c10 = Vector512.FusedMultiplyAdd(ai, b0, c10); c11 = Vector512.FusedMultiplyAdd(ai, b1, c11);
            ai = Vector512.Create(a[r2]); c20 = Vector512.FusedMultiplyAdd(ai, b0, c20); c21 = Vector512.FusedMultiplyAdd(ai, b1, c21);
            ai = Vector512.Create(a[r3]); c30 = Vector512.FusedMultiplyAdd(ai, b0, c30); c31 = Vector512.FusedMultiplyAdd(ai, b1, c31);
            ai = Vector512.Create(a4[0]); c40 = Vector512.FusedMultiplyAdd(ai, b0, c40); c41 = Vector512.FusedMultiplyAdd(ai, b1, c41);
            ai = Vector512.Create(a4[r1]); c50 = Vector512.FusedMultiplyAdd(ai, b0, c50); c51 = Vector512.FusedMultiplyAdd(ai, b1, c51);
            ai = Vector512.Create(a4[r2]); c60 = Vector512.FusedMultiplyAdd(ai, b0, c60); c61 = Vector512.FusedMultiplyAdd(ai, b1, c61);
            ai = Vector512.Create(a4[r3]); c70 = Vector512.FusedMultiplyAdd(ai, b0, c70); c71 = Vector512.FusedMultiplyAdd(ai, b1, c71);
            a += kStep;
            a4 += kStep;
            b += ldb;
        }
        StoreRow(c00, c01, c, hi, alpha, beta);
        StoreRow(c10, c11, c + ldc, hi, alpha, beta);
        StoreRow(c20, c21, c + 2 * ldc, hi, alpha, beta);
        StoreRow(c30, c31, c + 3 * ldc, hi, alpha, beta);
        StoreRow(c40, c41, c + 4 * ldc, hi, alpha, beta);
        StoreRow(c50, c51, c + 5 * ldc, hi, alpha, beta);
        StoreRow(c60, c61, c + 6 * ldc, hi, alpha, beta);
        StoreRow(c70, c71, c + 7 * ldc, hi, alpha, beta);
    }

    // c[0 .. 16) whole, c[16 .. 32) under the mask hi, as TileStore.Row
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(Vector512<float> lo, Vector512<float> hi, float* c, Vector512<float> mask, float alpha, float beta)
    {
        TileStore<Simd512, Vector512<float>>.Half(lo, c, alpha, beta);
        Store(hi, c + 16, mask, alpha, beta);
    }

    // c[j] = acc[j] * alpha (beta = 0, c not read) or fma(acc[j], alpha, beta * c[j]), for the lanes under the mask
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> acc, float* c, Vector512<float> mask, float alpha, float beta)
    {
        var va = Vector512.Create(alpha);
        if (beta == 0) Avx512F.MaskStore(c, mask, acc * va);
        else Avx512F.MaskStore(c, mask, Vector512.FusedMultiplyAdd(acc, va, Vector512.Create(beta) * Avx512F.MaskLoad(c, mask, Vector512<float>.Zero)));
    }
}
