using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormNet.Kernels;

/// <summary>The vector widths the kernels are instantiated at, widest first.</summary>
internal enum SimdWidth { W512, W256, W128, Scalar }

/// <summary>A kernel call with its arguments, to be run at one vector width: <see cref="SimdDispatch"/> calls
/// <see cref="Run{TS, TV}"/> with the width it chose. A small (ref) struct per call site, so the JIT specializes and
/// inlines everything, as it does for a direct call.</summary>
internal interface ISimdOperation
{
    void Run<TS, TV>() where TS : ISimd<TV> where TV : struct;
}

/// <summary>The vector ladder in one place: AVX-512 if accelerated, else 256 bits (AVX2), else 128 bits (AdvSimd on
/// ARM64, SSE on x64), else scalar. <see cref="Widest"/> is read once; the JIT folds the switch to one call.</summary>
internal static class SimdDispatch
{
    public static SimdWidth Widest { get; } =
        Simd512.IsSupported ? SimdWidth.W512 : Simd256.IsSupported ? SimdWidth.W256 : Simd128.IsSupported ? SimdWidth.W128 : SimdWidth.Scalar;

    /// <summary>Runs <paramref name="op"/> at the widest width this machine runs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TOp>(TOp op) where TOp : ISimdOperation, allows ref struct => Run(Widest, op);

    /// <summary>Runs <paramref name="op"/> at <paramref name="width"/> (tests run every width the machine supports).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TOp>(SimdWidth width, TOp op) where TOp : ISimdOperation, allows ref struct
    {
        switch (width)
        {
            case SimdWidth.W512: op.Run<Simd512, Vector512<float>>(); break;
            case SimdWidth.W256: op.Run<Simd256, Vector256<float>>(); break;
            case SimdWidth.W128: op.Run<Simd128, Vector128<float>>(); break;
            default: op.Run<SimdScalar, float>(); break;
        }
    }
}
