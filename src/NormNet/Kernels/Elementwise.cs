using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormNet.Kernels;

/// <summary>Small element-wise kernels shared by layers.</summary>
public static unsafe class Elementwise
{
    // a, b, dst: (n)
    /// <summary>dst[i] = a[i] + b[i].</summary>
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst) => Add(SimdDispatch.Widest, a, b, dst);

    /// <summary><see cref="Add(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/> at a chosen width (tests run every width).</summary>
    internal static void Add(SimdWidth width, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst)
    {
        if (a.Length != dst.Length || b.Length != dst.Length)
            throw new ArgumentException($"Add: lengths {a.Length}, {b.Length} and {dst.Length} differ.");
        fixed (float* pa = a, pb = b, pd = dst)
        {
            SimdDispatch.Run(width, new AddOp(pa, pb, pd, dst.Length));
        }
    }

    private readonly struct AddOp(float* a, float* b, float* d, long n) : ISimdOperation
    {
        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct => Add<TS, TV>(a, b, d, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Add<TS, TV>(float* a, float* b, float* d, long n) where TS : ISimd<TV> where TV : struct
    {
        long w = TS.Width, i = 0;
        for (; i <= n - w; i += w) TS.Store(TS.Add(TS.Load(a + i), TS.Load(b + i)), d + i);
        for (; i < n; i++) d[i] = a[i] + b[i];
    }
}
