using System.Runtime.Intrinsics;
using NormNet.Kernels;

namespace NormNet.Tests.Kernels;

/// <summary>Runs the batch-norm kernels at a chosen vector width, so every width is tested on this machine.</summary>
public enum Width { W512, W256, W128, Scalar }

internal static class KernelWidths
{
    /// <summary>The widths this machine can run (512 only with AVX-512; 128 is ARM64's AdvSimd rung, run here with SSE).</summary>
    public static TheoryData<Width> Supported()
    {
        var data = new TheoryData<Width>();
        if (Simd512.IsSupported) data.Add(Width.W512);
        if (Simd256.IsSupported) data.Add(Width.W256);
        if (Simd128.IsSupported) data.Add(Width.W128);
        data.Add(Width.Scalar);
        return data;
    }

    /// <summary>The library's name for the width.</summary>
    public static SimdWidth ToSimd(this Width w) => w switch
    {
        Width.W512 => SimdWidth.W512, Width.W256 => SimdWidth.W256, Width.W128 => SimdWidth.W128, _ => SimdWidth.Scalar,
    };

    public static void TrainingForward(Width w, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        BatchNormShape shape, double eps, Span<float> y, Span<double> mean, Span<double> invstd, Span<double> variance)
    {
        switch (w)
        {
            case Width.W512: BatchNorm.TrainingForward<Simd512, Vector512<float>>(x, gamma, beta, shape, eps, y, mean, invstd, variance); break;
            case Width.W256: BatchNorm.TrainingForward<Simd256, Vector256<float>>(x, gamma, beta, shape, eps, y, mean, invstd, variance); break;
            case Width.W128: BatchNorm.TrainingForward<Simd128, Vector128<float>>(x, gamma, beta, shape, eps, y, mean, invstd, variance); break;
            default: BatchNorm.TrainingForward<SimdScalar, float>(x, gamma, beta, shape, eps, y, mean, invstd, variance); break;
        }
    }

    public static void Backward(Width w, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, BatchNormShape shape, Span<float> dx, Span<float> dgamma, Span<float> dbeta, bool frozen)
    {
        switch (w)
        {
            case Width.W512: BatchNorm.Backward<Simd512, Vector512<float>>(dy, x, gamma, mean, invstd, shape, dx, dgamma, dbeta, frozen); break;
            case Width.W256: BatchNorm.Backward<Simd256, Vector256<float>>(dy, x, gamma, mean, invstd, shape, dx, dgamma, dbeta, frozen); break;
            case Width.W128: BatchNorm.Backward<Simd128, Vector128<float>>(dy, x, gamma, mean, invstd, shape, dx, dgamma, dbeta, frozen); break;
            default: BatchNorm.Backward<SimdScalar, float>(dy, x, gamma, mean, invstd, shape, dx, dgamma, dbeta, frozen); break;
        }
    }

    public static void InferenceForward(Width w, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> rm, ReadOnlySpan<float> rv, BatchNormShape shape, double eps, Span<float> y)
    {
        switch (w)
        {
            case Width.W512: BatchNorm.InferenceForward<Simd512, Vector512<float>>(x, gamma, beta, rm, rv, shape, eps, y); break;
            case Width.W256: BatchNorm.InferenceForward<Simd256, Vector256<float>>(x, gamma, beta, rm, rv, shape, eps, y); break;
            case Width.W128: BatchNorm.InferenceForward<Simd128, Vector128<float>>(x, gamma, beta, rm, rv, shape, eps, y); break;
            default: BatchNorm.InferenceForward<SimdScalar, float>(x, gamma, beta, rm, rv, shape, eps, y); break;
        }
    }

    public static void InferenceBackward(Width w, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> rm, ReadOnlySpan<float> rv, BatchNormShape shape, double eps, Span<float> dx, Span<float> dgamma, Span<float> dbeta)
    {
        switch (w)
        {
            case Width.W512: BatchNorm.InferenceBackward<Simd512, Vector512<float>>(dy, x, gamma, rm, rv, shape, eps, dx, dgamma, dbeta); break;
            case Width.W256: BatchNorm.InferenceBackward<Simd256, Vector256<float>>(dy, x, gamma, rm, rv, shape, eps, dx, dgamma, dbeta); break;
            case Width.W128: BatchNorm.InferenceBackward<Simd128, Vector128<float>>(dy, x, gamma, rm, rv, shape, eps, dx, dgamma, dbeta); break;
            default: BatchNorm.InferenceBackward<SimdScalar, float>(dy, x, gamma, rm, rv, shape, eps, dx, dgamma, dbeta); break;
        }
    }

    public static void SampleForward(Width w, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        SampleNormShape shape, double eps, Span<float> y, Span<double> mean, Span<double> invstd, Span<double> variance) =>
        SampleNorm.Forward(w.ToSimd(), x, gamma, beta, shape, eps, y, mean, invstd, variance);

    public static void SampleBackward(Width w, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, SampleNormShape shape, Span<float> dx, Span<float> dgamma, Span<float> dbeta) =>
        SampleNorm.Backward(w.ToSimd(), dy, x, gamma, mean, invstd, shape, dx, dgamma, dbeta);
}
