using System.Runtime.Intrinsics;

namespace NormNet.Kernels;

/// <summary>
/// The two steps batch renormalization (Ioffe, 2017) adds to batch norm's training forward, as stateless functions:
/// the per-channel corrections r and d, and the rescaling of a batch-normalized output by them.
/// </summary>
/// <remarks>
/// With xhat_B = (x - mu_B) / sigma_B the batch-normalized value, renorm outputs
/// y = gamma * (xhat_B * r + d) + beta = r * y_BN + (gamma * d + beta - r * beta), so it is batch norm's kernel
/// followed by one per-channel multiply-add over y; in backward r and d are constants and the input gradient is
/// batch norm's with gamma * r in place of gamma.
/// </remarks>
public static unsafe class BatchRenorm
{
    // mean, invstd: (C) from BatchNorm.TrainingForward; runningMean, runningVar: (C); r, d: (C), written.
    /// <summary>r = clip(sigma_B / sigma, 1 / rMax, rMax) and d = clip((mu_B - mu) / sigma, -dMax, dMax) per channel,
    /// with sigma_B = 1 / invstd and sigma = sqrt(runningVar + eps). Returns whether any channel has r != 1 or d != 0.</summary>
    public static bool Corrections(ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, ReadOnlySpan<float> runningMean,
        ReadOnlySpan<float> runningVar, double eps, double rMax, double dMax, Span<double> r, Span<double> d)
    {
        int c = mean.Length;
        if (invstd.Length != c || runningMean.Length != c || runningVar.Length != c || r.Length != c || d.Length != c)
            throw new ArgumentException($"BatchRenorm.Corrections: every span must have {c} elements (one per channel).");
        if (!(rMax >= 1)) throw new ArgumentOutOfRangeException(nameof(rMax), rMax, "rMax must be at least 1.");
        if (!(dMax >= 0)) throw new ArgumentOutOfRangeException(nameof(dMax), dMax, "dMax must be non-negative.");
        bool corrects = false;
        for (int j = 0; j < c; j++)
        {
            double sigma = Math.Sqrt(runningVar[j] + eps);
            r[j] = Math.Clamp(1.0 / invstd[j] / sigma, 1.0 / rMax, rMax);
            d[j] = Math.Clamp((mean[j] - runningMean[j]) / sigma, -dMax, dMax);
            corrects |= r[j] != 1 || d[j] != 0;
        }
        return corrects;
    }

    // y: (N, C, S), rewritten in place; scale, shift: (C).
    /// <summary>y = y * scale[c] + shift[c] in place, per channel (scale = r, shift = gamma * d + beta - r * beta).</summary>
    public static void Rescale(Span<float> y, BatchNormShape shape, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift)
    {
        shape.Validate();
        shape.CheckLength(y.Length, nameof(y), shape.Elements);
        shape.CheckLength(scale.Length, nameof(scale), shape.Channels);
        shape.CheckLength(shift.Length, nameof(shift), shape.Channels);
        if (Simd512.IsSupported) Rescale<Simd512, Vector512<float>>(y, shape, scale, shift);
        else if (Simd256.IsSupported) Rescale<Simd256, Vector256<float>>(y, shape, scale, shift);
        else Rescale<SimdScalar, float>(y, shape, scale, shift);
    }

    private static void Rescale<TS, TV>(Span<float> y, BatchNormShape shape, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift)
        where TS : ISimd<TV> where TV : struct
    {
        var (n, c, s) = (shape.Outer, shape.Channels, shape.Inner);
        fixed (float* py = y, pa = scale, pb = shift)
        {
            // y = y * scale[c] + shift[c]
            if (s == 1)
            {
                BatchNormLoops.RowsScaleShift<TS, TV>(py, py, c, n, c, pa, pb);
                return;
            }
            for (int i = 0; i < n; i++)
                for (int j = 0; j < c; j++)
                {
                    float* plane = py + ((long)i * c + j) * s;
                    BatchNormLoops.PlaneScaleShift<TS, TV>(plane, plane, s, pa[j], pb[j]);
                }
        }
    }
}
