using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormNet.Kernels;

/// <summary>Small element-wise kernels shared by layers.</summary>
public static unsafe class Elementwise
{
    // a, b, dst: (n)
    /// <summary>dst[i] = a[i] + b[i].</summary>
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst)
    {
        if (a.Length != dst.Length || b.Length != dst.Length)
            throw new ArgumentException($"Add: lengths {a.Length}, {b.Length} and {dst.Length} differ.");
        fixed (float* pa = a, pb = b, pd = dst)
        {
            if (Vector512.IsHardwareAccelerated) Add<Simd512, Vector512<float>>(pa, pb, pd, dst.Length);
            else if (Vector256.IsHardwareAccelerated) Add<Simd256, Vector256<float>>(pa, pb, pd, dst.Length);
            else Add<SimdScalar, float>(pa, pb, pd, dst.Length);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Add<TS, TV>(float* a, float* b, float* d, long n) where TS : ISimd<TV> where TV : struct
    {
        long w = TS.Width, i = 0;
        for (; i <= n - w; i += w) TS.Store(TS.Add(TS.Load(a + i), TS.Load(b + i)), d + i);
        for (; i < n; i++) d[i] = a[i] + b[i];
    }
}
