using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormNet.Kernels;

/// <summary>
/// The vector operations NormNet's kernels are written against, so each kernel is written once and
/// instantiated at 512 bits, 256 bits, 128 bits and 1 lane (scalar); <see cref="SimdDispatch"/> picks the widest the
/// machine runs. The JIT specializes generic methods over these
/// structs, so the abstraction costs nothing at run time, and tests can run every width on any machine
/// that supports it.
/// </summary>
/// <typeparam name="TVec">The vector type (<see cref="Vector512{T}"/>, <see cref="Vector256{T}"/>, <see cref="Vector128{T}"/> or float).</typeparam>
internal unsafe interface ISimd<TVec> where TVec : struct
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Width { get; }
    /// <summary>Whether this width runs in hardware here.</summary>
    static abstract bool IsSupported { get; }
    static abstract TVec Zero { get; }
    static abstract TVec Broadcast(float value);
    static abstract TVec Load(float* p);
    static abstract void Store(TVec value, float* p);
    static abstract TVec Add(TVec a, TVec b);
    static abstract TVec Sub(TVec a, TVec b);
    static abstract TVec Mul(TVec a, TVec b);
    /// <summary>a * b + c, fused (one rounding).</summary>
    static abstract TVec MulAdd(TVec a, TVec b, TVec c);
    static abstract TVec Max(TVec a, TVec b);
    /// <summary>x clamped to [lo, hi] per lane; a NaN lane stays NaN.</summary>
    static abstract TVec Clamp(TVec x, TVec lo, TVec hi);
    static abstract TVec Div(TVec a, TVec b);
    static abstract TVec Sqrt(TVec x);
    /// <summary>2^k per lane, for integer-valued k in [-126, 127] (built from the exponent bits; see <see cref="SimdExp"/>).</summary>
    static abstract TVec Pow2(TVec k);
    /// <summary>A lane mask: all ones where x &gt; 0.</summary>
    static abstract TVec GreaterThanZero(TVec x);
    /// <summary>mask ? a : b per lane.</summary>
    static abstract TVec Select(TVec mask, TVec a, TVec b);
    /// <summary>The sum of the lanes.</summary>
    static abstract float Sum(TVec value);
    /// <summary>dst[i] += value[i] for every lane, in double.</summary>
    static abstract void AddToDouble(TVec value, double* dst);
    /// <summary>Stores without reading the line first and without keeping it in cache (p aligned to the vector
    /// size): for outputs much larger than the caches.</summary>
    static abstract void StoreNonTemporal(TVec value, float* p);
}

/// <summary>512-bit vectors (AVX-512).</summary>
internal readonly unsafe struct Simd512 : ISimd<Vector512<float>>
{
    public static int Width => Vector512<float>.Count;
    public static bool IsSupported => Vector512.IsHardwareAccelerated;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float value) => Vector512.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> value, float* p) => value.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MulAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sqrt(Vector512<float> x) => Vector512.Sqrt(x);
    // native max and min return their second operand where either is NaN: x, then the clamped x
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Clamp(Vector512<float> x, Vector512<float> lo, Vector512<float> hi) => Vector512.MinNative(hi, Vector512.MaxNative(lo, x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Pow2(Vector512<float> k) => Vector512.ShiftLeft(Vector512.ConvertToInt32Native(k) + Vector512.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> GreaterThanZero(Vector512<float> x) => Vector512.GreaterThan(x, Vector512<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Select(Vector512<float> mask, Vector512<float> a, Vector512<float> b) => Vector512.ConditionalSelect(mask, a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> value) => Vector512.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void AddToDouble(Vector512<float> value, double* dst)
    {
        var (lo, hi) = Vector512.Widen(value);
        Vector512.Store(Vector512.Load(dst) + lo, dst);
        Vector512.Store(Vector512.Load(dst + Vector512<double>.Count) + hi, dst + Vector512<double>.Count);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreNonTemporal(Vector512<float> value, float* p) => value.StoreAlignedNonTemporal(p);
}

/// <summary>256-bit vectors (AVX2).</summary>
internal readonly unsafe struct Simd256 : ISimd<Vector256<float>>
{
    public static int Width => Vector256<float>.Count;
    public static bool IsSupported => Vector256.IsHardwareAccelerated;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float value) => Vector256.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> value, float* p) => value.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sqrt(Vector256<float> x) => Vector256.Sqrt(x);
    // native max and min return their second operand where either is NaN: x, then the clamped x
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Clamp(Vector256<float> x, Vector256<float> lo, Vector256<float> hi) => Vector256.MinNative(hi, Vector256.MaxNative(lo, x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Pow2(Vector256<float> k) => Vector256.ShiftLeft(Vector256.ConvertToInt32Native(k) + Vector256.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> GreaterThanZero(Vector256<float> x) => Vector256.GreaterThan(x, Vector256<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Select(Vector256<float> mask, Vector256<float> a, Vector256<float> b) => Vector256.ConditionalSelect(mask, a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> value) => Vector256.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void AddToDouble(Vector256<float> value, double* dst)
    {
        var (lo, hi) = Vector256.Widen(value);
        Vector256.Store(Vector256.Load(dst) + lo, dst);
        Vector256.Store(Vector256.Load(dst + Vector256<double>.Count) + hi, dst + Vector256<double>.Count);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreNonTemporal(Vector256<float> value, float* p) => value.StoreAlignedNonTemporal(p);
}

/// <summary>128-bit vectors: AdvSimd on ARM64, SSE on x64 without AVX2. MulAdd is fused everywhere (on an x64 without
/// FMA the runtime emulates it, slowly but with one rounding), so results match the wider rungs where they do.</summary>
internal readonly unsafe struct Simd128 : ISimd<Vector128<float>>
{
    public static int Width => Vector128<float>.Count;
    public static bool IsSupported => Vector128.IsHardwareAccelerated;
    public static Vector128<float> Zero => Vector128<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Broadcast(float value) => Vector128.Create(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Load(float* p) => Vector128.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<float> value, float* p) => value.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Add(Vector128<float> a, Vector128<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sub(Vector128<float> a, Vector128<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Mul(Vector128<float> a, Vector128<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> MulAdd(Vector128<float> a, Vector128<float> b, Vector128<float> c) => Vector128.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Max(Vector128<float> a, Vector128<float> b) => Vector128.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Div(Vector128<float> a, Vector128<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Sqrt(Vector128<float> x) => Vector128.Sqrt(x);
    // native max and min return their second operand where either is NaN: x, then the clamped x
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Clamp(Vector128<float> x, Vector128<float> lo, Vector128<float> hi) => Vector128.MinNative(hi, Vector128.MaxNative(lo, x));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Pow2(Vector128<float> k) => Vector128.ShiftLeft(Vector128.ConvertToInt32Native(k) + Vector128.Create(127), 23).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> GreaterThanZero(Vector128<float> x) => Vector128.GreaterThan(x, Vector128<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<float> Select(Vector128<float> mask, Vector128<float> a, Vector128<float> b) => Vector128.ConditionalSelect(mask, a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector128<float> value) => Vector128.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void AddToDouble(Vector128<float> value, double* dst)
    {
        var (lo, hi) = Vector128.Widen(value);
        Vector128.Store(Vector128.Load(dst) + lo, dst);
        Vector128.Store(Vector128.Load(dst + Vector128<double>.Count) + hi, dst + Vector128<double>.Count);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreNonTemporal(Vector128<float> value, float* p) => value.StoreAlignedNonTemporal(p);
}

/// <summary>One lane: the portable fallback.</summary>
internal readonly unsafe struct SimdScalar : ISimd<float>
{
    public static int Width => 1;
    public static bool IsSupported => true;
    public static float Zero => 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Broadcast(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Load(float* p) => *p;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float value, float* p) => *p = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Add(float a, float b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sub(float a, float b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Mul(float a, float b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MulAdd(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Max(float a, float b) => float.IsNaN(a) ? a : MathF.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Div(float a, float b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sqrt(float x) => MathF.Sqrt(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Clamp(float x, float lo, float hi) => float.IsNaN(x) ? x : Math.Clamp(x, lo, hi);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Pow2(float k) => BitConverter.Int32BitsToSingle(((int)k + 127) << 23);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float GreaterThanZero(float x) => x > 0 ? BitConverter.Int32BitsToSingle(-1) : 0f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Select(float mask, float a, float b) => BitConverter.SingleToInt32Bits(mask) != 0 ? a : b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(float value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void AddToDouble(float value, double* dst) => *dst += value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreNonTemporal(float value, float* p) => *p = value;
}
