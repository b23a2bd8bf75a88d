using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace NormNet.Kernels;

/// <summary>Even/odd shuffles of 128-bit vectors (x86 shufps and unpck, Arm64 uzp and zip; AVX-512 permutes for
/// <see cref="TakeEven"/>), for the kernels that split or merge every other element: 2x2 pooling, the stride-2
/// convolution's phase planes and the stride-2 1x1 convolution's subsampling.</summary>
internal static unsafe class Shuffles
{
    /// <summary>Whether the two-source shuffles run here (x86 SSE or Arm64 AdvSimd); callers keep a scalar path beside them.</summary>
    public static bool Supported => Sse.IsSupported || AdvSimd.Arm64.IsSupported;

    // (a0 a1 a2 a3), (b0 b1 b2 b3) -> even (a0 a2 b0 b2), odd (a1 a3 b1 b3)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(Vector128<float> a, Vector128<float> b, out Vector128<float> even, out Vector128<float> odd)
    {
        if (Sse.IsSupported)
        {
            even = Sse.Shuffle(a, b, 0b10_00_10_00);
            odd = Sse.Shuffle(a, b, 0b11_01_11_01);
        }
        else
        {
            even = AdvSimd.Arm64.UnzipEven(a, b);
            odd = AdvSimd.Arm64.UnzipOdd(a, b);
        }
    }

    // even (e0 e1 e2 e3), odd (o0 o1 o2 o3) -> p[0..8) = e0 o0 e1 o1 e2 o2 e3 o3
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Interleave(Vector128<float> even, Vector128<float> odd, float* p)
    {
        if (Sse.IsSupported)
        {
            Sse.UnpackLow(even, odd).Store(p);
            Sse.UnpackHigh(even, odd).Store(p + 4);
        }
        else
        {
            AdvSimd.Arm64.ZipLow(even, odd).Store(p);
            AdvSimd.Arm64.ZipHigh(even, odd).Store(p + 4);
        }
    }

    // src: (n) -> even[j] = src[2j] for 2j < n, odd[j] = src[2j + 1] for 2j + 1 < n
    /// <summary>Splits a row into its even and odd elements: with AVX-512 sixteen of each per step (two loads, two two-source
    /// permutes), the last step's loads and stores masked to the row; else four of each per step where the shuffles run.</summary>
    public static void DeinterleaveRow(float* src, int n, float* even, float* odd)
    {
        int j = 0;
        if (Avx512F.IsSupported)
        {
            var evens = EvenOf32;
            var odds = OddOf32;
            for (; 2 * j < n; j += 16)
            {
                int left = n - 2 * j;
                Vector512<float> lo = LoadUpTo(src + 2 * j, left), hi = left > 16 ? LoadUpTo(src + 2 * j + 16, left - 16) : Vector512<float>.Zero;
                Vector512<float> e = Avx512F.PermuteVar16x32x2(lo, evens, hi), o = Avx512F.PermuteVar16x32x2(lo, odds, hi);
                if (left >= 32)
                {
                    e.Store(even + j);
                    o.Store(odd + j);
                    continue;
                }
                Avx512F.MaskStore(even + j, FirstLanes((left + 1) / 2), e);
                Avx512F.MaskStore(odd + j, FirstLanes(left / 2), o);
            }
            return;
        }
        if (Supported)
            for (; 2 * j + 8 <= n; j += 4)
            {
                Deinterleave(Vector128.Load(src + 2 * j), Vector128.Load(src + 2 * j + 4), out var e, out var o);
                e.Store(even + j);
                o.Store(odd + j);
            }
        for (; 2 * j < n; j++)
        {
            even[j] = src[2 * j];
            if (2 * j + 1 < n) odd[j] = src[2 * j + 1];
        }
    }

    // src: (available) -> dst[j] = src[2j], j < count (2 count - 1 <= available)
    /// <summary>Every other element of a row, from the first: with AVX-512 sixteen per step (two loads, one two-source
    /// permute), the last step's loads and store masked to the row; else four per step where the shuffles run and eight
    /// source elements are there to read, one at a time after that.</summary>
    public static void TakeEven(float* src, int available, int count, float* dst)
    {
        int j = 0;
        if (Avx512F.IsSupported)
        {
            var even = EvenOf32;
            for (; j < count; j += 16)
            {
                int left = available - 2 * j;
                Vector512<float> lo = LoadUpTo(src + 2 * j, left), hi = left > 16 ? LoadUpTo(src + 2 * j + 16, left - 16) : Vector512<float>.Zero;
                var e = Avx512F.PermuteVar16x32x2(lo, even, hi);
                if (count - j >= 16) e.Store(dst + j);
                else Avx512F.MaskStore(dst + j, FirstLanes(count - j), e);
            }
            return;
        }
        if (Supported)
            for (; j + 4 <= count && 2 * j + 8 <= available; j += 4)
            {
                Deinterleave(Vector128.Load(src + 2 * j), Vector128.Load(src + 2 * j + 4), out var even, out _);
                even.Store(dst + j);
            }
        for (; j < count; j++) dst[j] = src[2 * j];
    }

    /// <summary>The lanes of a two-source permute (<c>Avx512F.PermuteVar16x32x2</c>) that take the even elements of the 32 in
    /// its two sources: 0, 2, .., 30.</summary>
    public static Vector512<int> EvenOf32
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    }

    /// <summary>The lanes that take the odd elements of the 32: 1, 3, .., 31.</summary>
    public static Vector512<int> OddOf32
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    }

    // p: (n) -> p[0 .. min(n, 16)), zeros after: nothing past p[n - 1] is read
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> LoadUpTo(float* p, int n) => n >= 16 ? Vector512.Load(p) : Avx512F.MaskLoad(p, FirstLanes(n), Vector512<float>.Zero);

    /// <summary>A mask of the first <paramref name="n"/> of 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> FirstLanes(int n) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(n)).AsSingle();

    // dst: (available), src: (count) -> dst[2j] += src[j], j < count (2 count - 1 <= available); the odd elements unchanged
    /// <summary>Adds a row into every other element of another, from the first: four per step where the shuffles run and
    /// eight destination elements are there (the odd ones are stored back as they were), one at a time after that.</summary>
    public static void AddToEven(float* dst, int available, float* src, int count)
    {
        int j = 0;
        if (Supported)
            for (; j + 4 <= count && 2 * j + 8 <= available; j += 4)
            {
                Deinterleave(Vector128.Load(dst + 2 * j), Vector128.Load(dst + 2 * j + 4), out var even, out var odd);
                Interleave(even + Vector128.Load(src + j), odd, dst + 2 * j);
            }
        for (; j < count; j++) dst[2 * j] += src[j];
    }
}
