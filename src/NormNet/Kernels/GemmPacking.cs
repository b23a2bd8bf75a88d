using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormNet.Kernels;

/// <summary>
/// Copies blocks of op(A) and op(B) into the panel layout the micro-kernel reads: a block of r rows (or
/// columns) is cut into panels of <c>w</c> (the kernel's Mr or Nr), each stored kc x w with w contiguous,
/// the last panel zero-padded. Which operand is being packed does not matter, only whether the w lanes
/// are contiguous in the source (<see cref="Contiguous"/>) or strided (<see cref="Strided"/>).
/// </summary>
internal static unsafe class GemmPacking
{
    // src: element (p, l) at src[p*ld + l], l < lanes; dst: ceil(lanes / w) panels, each kc x w
    // dst[panel][p*w + j] = src[p*ld + panel*w + j], or 0 past lanes
    /// <summary>Packs lanes that are contiguous in the source (A transposed, B not transposed): row copies.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Contiguous(float* src, nint ld, int lanes, int kc, int w, float* dst)
    {
        for (int l0 = 0; l0 < lanes; l0 += w, dst += (nint)kc * w)
        {
            int n = Math.Min(w, lanes - l0);
            float* s = src + l0;
            if (n < w) new Span<float>(dst, kc * w).Clear();
            for (int p = 0; p < kc; p++)
            {
                // dp[j] = sp[j] for j < n
                float* sp = s + p * ld, dp = dst + p * w;
                int j = 0;
                if (Vector512.IsHardwareAccelerated)
                    for (; j + 16 <= n; j += 16) Vector512.Store(Vector512.Load(sp + j), dp + j);
                if (Vector256.IsHardwareAccelerated)
                    for (; j + 8 <= n; j += 8) Vector256.Store(Vector256.Load(sp + j), dp + j);
                if (Vector128.IsHardwareAccelerated)
                    for (; j + 4 <= n; j += 4) Vector128.Store(Vector128.Load(sp + j), dp + j);
                for (; j < n; j++) dp[j] = sp[j];
            }
        }
    }

    // src: element (p, l) at src[l*ld + p], l < lanes; dst: ceil(lanes / w) panels, each kc x w
    // dst[panel][p*w + j] = src[(panel*w + j)*ld + p], or 0 past lanes
    /// <summary>Packs lanes that are strided in the source (A not transposed, B transposed): a transpose,
    /// in 8 x 8 blocks where AVX is available and w is a multiple of 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Strided(float* src, nint ld, int lanes, int kc, int w, float* dst)
    {
        bool blocks = Avx.IsSupported && w % 8 == 0;
        for (int l0 = 0; l0 < lanes; l0 += w, dst += (nint)kc * w)
        {
            int n = Math.Min(w, lanes - l0);
            float* s = src + l0 * ld;
            if (!blocks)
            {
                for (int p = 0; p < kc; p++)
                    for (int j = 0; j < w; j++) dst[p * w + j] = j < n ? s[j * ld + p] : 0;
                continue;
            }
            int pEnd = kc & ~7;
            // groups of 8 lanes: 8 x 8 transposes over whole blocks of 8 steps, missing lanes read as 0
            for (int g = 0; g < w; g += 8)
            {
                int valid = Math.Clamp(n - g, 0, 8);
                float* sg = s + g * ld;
                for (int p = 0; p < pEnd; p += 8)
                    Transpose8x8(sg + p, ld, valid, dst + p * w + g, w);
                for (int p = pEnd; p < kc; p++)
                    for (int j = 0; j < 8; j++) dst[p * w + g + j] = j < valid ? sg[j * ld + p] : 0;
            }
        }
    }

    // dst[c*dstLd + r] = r < rows ? src[r*srcLd + c] : 0, for r, c < 8 (rows in 0..8; no row past rows is read)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, nint srcLd, int rows, float* dst, nint dstLd)
    {
        Vector256<float> r0 = Row(src, 0, srcLd, rows), r1 = Row(src, 1, srcLd, rows);
        Vector256<float> r2 = Row(src, 2, srcLd, rows), r3 = Row(src, 3, srcLd, rows);
        Vector256<float> r4 = Row(src, 4, srcLd, rows), r5 = Row(src, 5, srcLd, rows);
        Vector256<float> r6 = Row(src, 6, srcLd, rows), r7 = Row(src, 7, srcLd, rows);
        // interleave row pairs: t0 = a0 b0 a1 b1 | a4 b4 a5 b5, t1 = a2 b2 a3 b3 | a6 b6 a7 b7, ...
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        // groups of four rows: u0 = a0 b0 c0 d0 | a4 b4 c4 d4, u1 = a1 b1 c1 d1 | a5 .., ...
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        // join the 128-bit halves: column c = a_c .. h_c
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + dstLd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * dstLd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * dstLd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * dstLd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * dstLd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * dstLd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * dstLd, Avx.Permute2x128(u3, u7, 0x31));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Row(float* src, int r, nint ld, int rows) =>
        r < rows ? Avx.LoadVector256(src + r * ld) : Vector256<float>.Zero;
}
