using System.Runtime.Intrinsics;

namespace NormNet.Kernels;

// Batch norm whose statistics come from outside (SyncBatchNorm: combined over the ranks of a data-parallel job).
// The same loops as the training kernels, on one thread (the statistics' owner decides the merge order), so the
// result depends only on the inputs and the given statistics. An input of zero rows (a rank without samples) is
// allowed and does nothing.
public static unsafe partial class BatchNorm
{
    // x, y: (N, C, S); gamma, beta: (C) or empty; mean, invstd: (C), given.
    /// <summary>y = (x - mean) * invstd * gamma + beta with the given per-channel statistics (double; the mean is
    /// split into a float and its rounding residue, as in <see cref="TrainingForward"/>).</summary>
    public static void NormalizeWith(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, BatchNormShape shape, Span<float> y)
    {
        CheckGiven(shape, x.Length, y.Length, gamma.Length, beta.Length, mean.Length, invstd.Length);
        if (shape.Elements == 0) return;
        int c = shape.Channels;
        var constants = new float[4 * c]; // hi, lo, scale, shift (rows: shift = beta - lo * scale)
        for (int j = 0; j < c; j++)
        {
            float hi = (float)mean[j], lo = (float)(mean[j] - hi), scale = (float)((gamma.IsEmpty ? 1.0 : gamma[j]) * invstd[j]);
            float b = beta.IsEmpty ? 0f : beta[j];
            (constants[j], constants[c + j], constants[2 * c + j]) = (hi, lo, scale);
            constants[3 * c + j] = shape.Inner == 1 ? (float)(b - (double)lo * scale) : b;
        }
        fixed (float* px = x, py = y, k = constants)
        {
            if (Simd512.IsSupported) NormalizeWith<Simd512, Vector512<float>>(px, py, shape, k);
            else if (Simd256.IsSupported) NormalizeWith<Simd256, Vector256<float>>(px, py, shape, k);
            else NormalizeWith<SimdScalar, float>(px, py, shape, k);
        }
    }

    // dy, x: (N, C, S); mean: (C); sumDy, sumDyD: (C), overwritten.
    /// <summary>The local reductions of the backward pass: sumDy = sum(dy), sumDyD = sum(dy * (x - mean)) per channel.</summary>
    public static void GradientSums(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<double> mean, BatchNormShape shape,
        Span<double> sumDy, Span<double> sumDyD)
    {
        CheckGiven(shape, x.Length, dy.Length, 0, 0, mean.Length, sumDy.Length);
        shape.CheckLength(sumDyD.Length, nameof(sumDyD), shape.Channels);
        sumDy.Clear();
        sumDyD.Clear();
        if (shape.Elements == 0) return;
        int c = shape.Channels;
        var split = Split(mean, c);
        fixed (float* pdy = dy, px = x, k = split)
        fixed (double* s1 = sumDy, s2 = sumDyD)
        {
            if (Simd512.IsSupported) GradientSums<Simd512, Vector512<float>>(pdy, px, shape, k, s1, s2);
            else if (Simd256.IsSupported) GradientSums<Simd256, Vector256<float>>(pdy, px, shape, k, s1, s2);
            else GradientSums<SimdScalar, float>(pdy, px, shape, k, s1, s2);
        }
    }

    // dy, x, dx: (N, C, S); gamma: (C) or empty; mean, invstd, sumDy, sumDyXhat: (C); count: the values per channel
    // that the statistics and sums cover (over all ranks).
    /// <summary>The training input gradient from given statistics and sums:
    /// dx = gamma * invstd * (dy - sumDy / count - xhat * sumDyXhat / count), xhat = (x - mean) * invstd.</summary>
    public static void ApplyGradientWith(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, ReadOnlySpan<double> sumDy, ReadOnlySpan<double> sumDyXhat,
        double count, BatchNormShape shape, Span<float> dx)
    {
        CheckGiven(shape, x.Length, dy.Length, gamma.Length, 0, mean.Length, invstd.Length);
        shape.CheckLength(dx.Length, nameof(dx), shape.Elements);
        shape.CheckLength(sumDy.Length, nameof(sumDy), shape.Channels);
        shape.CheckLength(sumDyXhat.Length, nameof(sumDyXhat), shape.Channels);
        if (shape.Elements == 0) return;
        if (!(count >= shape.PerChannel)) throw new ArgumentOutOfRangeException(nameof(count), count, $"Expected a count of at least the local {shape.PerChannel} values per channel, got {count}.");
        int c = shape.Channels;
        var constants = new float[5 * c]; // hi, lo, k, then planes: c1, c2; rows: q, p
        for (int j = 0; j < c; j++)
        {
            double k = (gamma.IsEmpty ? 1.0 : gamma[j]) * invstd[j];
            float hi = (float)mean[j], lo = (float)(mean[j] - hi);
            (constants[j], constants[c + j], constants[2 * c + j]) = (hi, lo, (float)k);
            double c1 = k * sumDy[j] / count, c2 = k * invstd[j] * sumDyXhat[j] / count;
            // planes: dx = dy * k - c1 - ((x - hi) - lo) * c2; rows: dx = (x - hi) * q + (dy * k + p), q = -c2, p = -c1 - lo * q
            constants[3 * c + j] = shape.Inner == 1 ? -(float)c2 : (float)c1;
            constants[4 * c + j] = shape.Inner == 1 ? (float)(-c1 - (double)lo * -(float)c2) : (float)c2;
        }
        fixed (float* pdy = dy, px = x, pdx = dx, k = constants)
        {
            if (Simd512.IsSupported) ApplyGradientWith<Simd512, Vector512<float>>(pdy, px, pdx, shape, k);
            else if (Simd256.IsSupported) ApplyGradientWith<Simd256, Vector256<float>>(pdy, px, pdx, shape, k);
            else ApplyGradientWith<SimdScalar, float>(pdy, px, pdx, shape, k);
        }
    }

    private static void NormalizeWith<TS, TV>(float* x, float* y, BatchNormShape shape, float* k) where TS : ISimd<TV> where TV : struct
    {
        int c = shape.Channels;
        if (shape.Inner == 1) { BatchNormLoops.RowsNormalize<TS, TV>(x, y, c, shape.Outer, c, k, k + 2 * c, k + 3 * c); return; }
        long plane = shape.Inner, stride = (long)c * plane;
        for (int n = 0; n < shape.Outer; n++)
            for (int j = 0; j < c; j++)
                BatchNormLoops.PlaneNormalize<TS, TV>(x + n * stride + j * plane, y + n * stride + j * plane, plane, k[j], k[c + j], k[2 * c + j], k[3 * c + j]);
    }

    private static void GradientSums<TS, TV>(float* dy, float* x, BatchNormShape shape, float* k, double* sumDy, double* sumDyD)
        where TS : ISimd<TV> where TV : struct
    {
        int c = shape.Channels;
        if (shape.Inner == 1) { BatchNormLoops.RowsSumGrad<TS, TV>(dy, x, c, shape.Outer, c, k, k + c, sumDy, sumDyD); return; }
        long plane = shape.Inner, stride = (long)c * plane;
        for (int j = 0; j < c; j++)
            (sumDy[j], sumDyD[j]) = BatchNormLoops.PlanesSumGrad<TS, TV>(dy + j * plane, x + j * plane, stride, shape.Outer, plane, k[j], k[c + j]);
    }

    private static void ApplyGradientWith<TS, TV>(float* dy, float* x, float* dx, BatchNormShape shape, float* k) where TS : ISimd<TV> where TV : struct
    {
        int c = shape.Channels;
        if (shape.Inner == 1) { BatchNormLoops.RowsApplyGrad<TS, TV>(dy, x, dx, c, shape.Outer, c, k, k + 2 * c, k + 3 * c, k + 4 * c); return; }
        long plane = shape.Inner, stride = (long)c * plane;
        for (int n = 0; n < shape.Outer; n++)
            for (int j = 0; j < c; j++)
            {
                long o = n * stride + j * plane;
                BatchNormLoops.PlaneApplyGrad<TS, TV>(dy + o, x + o, dx + o, plane, k[j], k[c + j], k[2 * c + j], k[3 * c + j], k[4 * c + j]);
            }
    }

    /// <summary>Each mean as a float and its rounding residue: [hi (C), lo (C)].</summary>
    private static float[] Split(ReadOnlySpan<double> mean, int c)
    {
        var split = new float[2 * c];
        for (int j = 0; j < c; j++)
        {
            split[j] = (float)mean[j];
            split[c + j] = (float)(mean[j] - split[j]);
        }
        return split;
    }

    private static void CheckGiven(BatchNormShape shape, int x, int other, int gamma, int beta, int mean, int perChannel)
    {
        if (shape.Outer < 0 || shape.Channels <= 0 || shape.Inner <= 0)
            throw new ArgumentException($"Batch-norm shape {shape} must have a non-negative batch and positive channels and inner size.");
        shape.CheckLength(x, "x", shape.Elements);
        shape.CheckLength(other, "y/dy", shape.Elements);
        shape.CheckOptional(gamma, "gamma");
        shape.CheckOptional(beta, "beta");
        shape.CheckLength(mean, "mean", shape.Channels);
        shape.CheckLength(perChannel, "statistics", shape.Channels);
    }
}
