using System.Runtime.CompilerServices;
namespace NormNet.Kernels;

/// <summary>
/// The inner loops of the batch-norm kernels, written once over <see cref="ISimd{TVec}"/>.
/// "Plane" loops run along one contiguous run of a single channel (the NCHW layout);
/// "Row" loops run across the channels of one row (channels-last and (N, C) inputs) with per-channel
/// constants read from small arrays.
/// </summary>
/// <remarks>
/// Outputs far larger than the caches can be written with non-temporal stores (<c>stream</c>), which skip reading
/// the destination line first; the chunk that used them ends with <see cref="BatchNorm.EndStreaming"/>.
/// Deviations from the mean are formed as <c>d = (x - hi) - lo</c>, where hi + lo is the double mean split
/// into two floats: <c>x - hi</c> is exact when x is near the mean, so inputs with mean 1e4 and std 1e-2
/// keep their precision. Sums run in float vector accumulators over blocks of at most
/// <see cref="Block"/> elements and the block totals are added in double.
/// </remarks>
internal static unsafe partial class BatchNormLoops
{
    /// <summary>Elements summed in float before the total moves to double.</summary>
    public const int Block = 4096;

    // ---------------------------------------------------------------- plane loops (one channel, contiguous)

    /// <summary>sum_i (x[i] - pivot), float blocks added in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double PlaneSumShifted<TS, TV>(float* x, long n, float pivot)
        where TS : ISimd<TV> where TV : struct
    {
        double total = 0;
        for (long start = 0; start < n; start += Block)
        {
            int len = (int)Math.Min(Block, n - start);
            float* p = x + start;
            TV pv = TS.Broadcast(pivot);
            TV a0 = TS.Zero, a1 = TS.Zero, a2 = TS.Zero, a3 = TS.Zero;
            int w = TS.Width, i = 0;
            for (; i <= len - 4 * w; i += 4 * w)
            {
                a0 = TS.Add(a0, TS.Sub(TS.Load(p + i), pv));
                a1 = TS.Add(a1, TS.Sub(TS.Load(p + i + w), pv));
                a2 = TS.Add(a2, TS.Sub(TS.Load(p + i + 2 * w), pv));
                a3 = TS.Add(a3, TS.Sub(TS.Load(p + i + 3 * w), pv));
            }
            for (; i <= len - w; i += w) a0 = TS.Add(a0, TS.Sub(TS.Load(p + i), pv));
            float s = TS.Sum(TS.Add(TS.Add(a0, a1), TS.Add(a2, a3)));
            for (; i < len; i++) s += p[i] - pivot;
            total += s;
        }
        return total;
    }

    /// <summary>sum over <paramref name="planes"/> planes (plane k at x + k * stride, n elements each) of (x[i] - pivot),
    /// four planes at a time so that four memory streams are in flight: reading one plane at a time ran at half the
    /// speed of a contiguous sweep (7.1 against 3.4 ms over (64, 128, 56, 56) on one thread), four at a time matched it.
    /// Float blocks of <see cref="Block"/> elements per plane added in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double PlanesSumShifted<TS, TV>(float* x, long stride, int planes, long n, float pivot)
        where TS : ISimd<TV> where TV : struct
    {
        double total = 0;
        int k = 0;
        for (; k <= planes - 4; k += 4)
        {
            float* p0 = x + k * stride, p1 = p0 + stride, p2 = p1 + stride, p3 = p2 + stride;
            for (long start = 0; start < n; start += Block)
            {
                int len = (int)Math.Min(Block, n - start);
                TV pv = TS.Broadcast(pivot);
                TV a0 = TS.Zero, a1 = TS.Zero, a2 = TS.Zero, a3 = TS.Zero;
                int w = TS.Width, i = 0;
                for (; i <= len - w; i += w)
                {
                    long o = start + i;
                    a0 = TS.Add(a0, TS.Sub(TS.Load(p0 + o), pv)); // a += x - pivot, one accumulator per plane
                    a1 = TS.Add(a1, TS.Sub(TS.Load(p1 + o), pv));
                    a2 = TS.Add(a2, TS.Sub(TS.Load(p2 + o), pv));
                    a3 = TS.Add(a3, TS.Sub(TS.Load(p3 + o), pv));
                }
                float s = TS.Sum(TS.Add(TS.Add(a0, a1), TS.Add(a2, a3)));
                for (; i < len; i++)
                {
                    long o = start + i;
                    s += ((p0[o] - pivot) + (p1[o] - pivot)) + ((p2[o] - pivot) + (p3[o] - pivot));
                }
                total += s;
            }
        }
        for (; k < planes; k++) total += PlaneSumShifted<TS, TV>(x + k * stride, n, pivot);
        return total;
    }

    /// <summary>(sum_i d[i], sum_i d[i]^2) with d = (x[i] - hi) - lo: the second pass of the corrected two-pass
    /// algorithm, whose sum of deviations repairs the rounding of the first pass's mean. Float blocks added in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (double SumD, double SumD2) PlaneSumDeviations<TS, TV>(float* x, long n, float hi, float lo)
        where TS : ISimd<TV> where TV : struct
    {
        double sumD = 0, sumD2 = 0;
        for (long start = 0; start < n; start += Block)
        {
            int len = (int)Math.Min(Block, n - start);
            float* p = x + start;
            TV h = TS.Broadcast(hi), l = TS.Broadcast(lo);
            TV s0 = TS.Zero, s1 = TS.Zero, q0 = TS.Zero, q1 = TS.Zero;
            int w = TS.Width, i = 0;
            for (; i <= len - 2 * w; i += 2 * w)
            {
                TV d0 = TS.Sub(TS.Sub(TS.Load(p + i), h), l);
                TV d1 = TS.Sub(TS.Sub(TS.Load(p + i + w), h), l);
                s0 = TS.Add(s0, d0);
                s1 = TS.Add(s1, d1);
                q0 = TS.MulAdd(d0, d0, q0);
                q1 = TS.MulAdd(d1, d1, q1);
            }
            for (; i <= len - w; i += w)
            {
                TV d = TS.Sub(TS.Sub(TS.Load(p + i), h), l);
                s0 = TS.Add(s0, d);
                q0 = TS.MulAdd(d, d, q0);
            }
            float s = TS.Sum(TS.Add(s0, s1)), q = TS.Sum(TS.Add(q0, q1));
            for (; i < len; i++)
            {
                float d = (p[i] - hi) - lo;
                s += d;
                q += d * d;
            }
            sumD += s;
            sumD2 += q;
        }
        return (sumD, sumD2);
    }

    /// <summary>y[i] = ((x[i] - hi) - lo) * scale + shift.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PlaneNormalize<TS, TV>(float* x, float* y, long n, float hi, float lo, float scale, float shift, bool stream = false)
        where TS : ISimd<TV> where TV : struct
    {
        TV h = TS.Broadcast(hi), l = TS.Broadcast(lo), a = TS.Broadcast(scale), b = TS.Broadcast(shift);
        long w = TS.Width, i = 0;
        if (stream)
        {
            // non-temporal stores from the first aligned element on: the output is far larger than the caches
            for (; i < n && ((nint)(y + i) & (nint)(w * 4 - 1)) != 0; i++) y[i] = MathF.FusedMultiplyAdd((x[i] - hi) - lo, scale, shift);
            for (; i <= n - w; i += w) TS.StoreNonTemporal(TS.MulAdd(TS.Sub(TS.Sub(TS.Load(x + i), h), l), a, b), y + i);
        }
        for (; i <= n - 2 * w; i += 2 * w)
        {
            TS.Store(TS.MulAdd(TS.Sub(TS.Sub(TS.Load(x + i), h), l), a, b), y + i);
            TS.Store(TS.MulAdd(TS.Sub(TS.Sub(TS.Load(x + i + w), h), l), a, b), y + i + w);
        }
        for (; i <= n - w; i += w) TS.Store(TS.MulAdd(TS.Sub(TS.Sub(TS.Load(x + i), h), l), a, b), y + i);
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd((x[i] - hi) - lo, scale, shift);
    }

    /// <summary>y[i] = x[i] * scale + shift (the inference transform).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PlaneScaleShift<TS, TV>(float* x, float* y, long n, float scale, float shift, bool stream = false)
        where TS : ISimd<TV> where TV : struct
    {
        TV a = TS.Broadcast(scale), b = TS.Broadcast(shift);
        long w = TS.Width, i = 0;
        if (stream)
        {
            for (; i < n && ((nint)(y + i) & (nint)(w * 4 - 1)) != 0; i++) y[i] = MathF.FusedMultiplyAdd(x[i], scale, shift);
            for (; i <= n - 2 * w; i += 2 * w)
            {
                TS.StoreNonTemporal(TS.MulAdd(TS.Load(x + i), a, b), y + i);
                TS.StoreNonTemporal(TS.MulAdd(TS.Load(x + i + w), a, b), y + i + w);
            }
        }
        for (; i <= n - 4 * w; i += 4 * w)
        {
            TS.Store(TS.MulAdd(TS.Load(x + i), a, b), y + i);
            TS.Store(TS.MulAdd(TS.Load(x + i + w), a, b), y + i + w);
            TS.Store(TS.MulAdd(TS.Load(x + i + 2 * w), a, b), y + i + 2 * w);
            TS.Store(TS.MulAdd(TS.Load(x + i + 3 * w), a, b), y + i + 3 * w);
        }
        for (; i <= n - w; i += w) TS.Store(TS.MulAdd(TS.Load(x + i), a, b), y + i);
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(x[i], scale, shift);
    }

    /// <summary>(sum_i dy[i], sum_i dy[i] * ((x[i] - hi) - lo)): the two reductions of the backward pass, fused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (double SumDy, double SumDyD) PlaneSumGrad<TS, TV>(float* dy, float* x, long n, float hi, float lo)
        where TS : ISimd<TV> where TV : struct
    {
        double sumDy = 0, sumDyD = 0;
        for (long start = 0; start < n; start += Block)
        {
            int len = (int)Math.Min(Block, n - start);
            float* g = dy + start, p = x + start;
            TV h = TS.Broadcast(hi), l = TS.Broadcast(lo);
            TV s0 = TS.Zero, s1 = TS.Zero, t0 = TS.Zero, t1 = TS.Zero;
            int w = TS.Width, i = 0;
            for (; i <= len - 2 * w; i += 2 * w)
            {
                TV g0 = TS.Load(g + i), g1 = TS.Load(g + i + w);
                s0 = TS.Add(s0, g0);
                s1 = TS.Add(s1, g1);
                t0 = TS.MulAdd(g0, TS.Sub(TS.Sub(TS.Load(p + i), h), l), t0);
                t1 = TS.MulAdd(g1, TS.Sub(TS.Sub(TS.Load(p + i + w), h), l), t1);
            }
            for (; i <= len - w; i += w)
            {
                TV g0 = TS.Load(g + i);
                s0 = TS.Add(s0, g0);
                t0 = TS.MulAdd(g0, TS.Sub(TS.Sub(TS.Load(p + i), h), l), t0);
            }
            float s = TS.Sum(TS.Add(s0, s1)), t = TS.Sum(TS.Add(t0, t1));
            for (; i < len; i++)
            {
                s += g[i];
                t += g[i] * ((p[i] - hi) - lo);
            }
            sumDy += s;
            sumDyD += t;
        }
        return (sumDy, sumDyD);
    }

    /// <summary><see cref="PlaneSumGrad{TS, TV}"/> summed over <paramref name="planes"/> planes (plane k at dy + k * stride
    /// and x + k * stride), two planes at a time so that four memory streams are in flight, as
    /// <see cref="PlanesSumShifted{TS, TV}"/> does for the forward statistics.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (double SumDy, double SumDyD) PlanesSumGrad<TS, TV>(float* dy, float* x, long stride, int planes, long n, float hi, float lo)
        where TS : ISimd<TV> where TV : struct
    {
        double sumDy = 0, sumDyD = 0;
        int k = 0;
        for (; k <= planes - 2; k += 2)
        {
            float* g0 = dy + k * stride, g1 = g0 + stride, p0 = x + k * stride, p1 = p0 + stride;
            for (long start = 0; start < n; start += Block)
            {
                int len = (int)Math.Min(Block, n - start);
                TV h = TS.Broadcast(hi), l = TS.Broadcast(lo);
                TV s0 = TS.Zero, s1 = TS.Zero, t0 = TS.Zero, t1 = TS.Zero;
                int w = TS.Width, i = 0;
                for (; i <= len - w; i += w)
                {
                    long o = start + i;
                    TV a0 = TS.Load(g0 + o), a1 = TS.Load(g1 + o);
                    s0 = TS.Add(s0, a0); // s += dy; t += dy * ((x - hi) - lo), one pair of accumulators per plane
                    s1 = TS.Add(s1, a1);
                    t0 = TS.MulAdd(a0, TS.Sub(TS.Sub(TS.Load(p0 + o), h), l), t0);
                    t1 = TS.MulAdd(a1, TS.Sub(TS.Sub(TS.Load(p1 + o), h), l), t1);
                }
                float s = TS.Sum(TS.Add(s0, s1)), t = TS.Sum(TS.Add(t0, t1));
                for (; i < len; i++)
                {
                    long o = start + i;
                    s += g0[o] + g1[o];
                    t += g0[o] * ((p0[o] - hi) - lo) + g1[o] * ((p1[o] - hi) - lo);
                }
                sumDy += s;
                sumDyD += t;
            }
        }
        for (; k < planes; k++)
        {
            var (s, t) = PlaneSumGrad<TS, TV>(dy + k * stride, x + k * stride, n, hi, lo);
            sumDy += s;
            sumDyD += t;
        }
        return (sumDy, sumDyD);
    }

    /// <summary>dx[i] = dy[i] * k - c1 - ((x[i] - hi) - lo) * c2: the training-mode input gradient.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PlaneApplyGrad<TS, TV>(float* dy, float* x, float* dx, long n, float hi, float lo, float k, float c1, float c2, bool stream = false)
        where TS : ISimd<TV> where TV : struct
    {
        TV h = TS.Broadcast(hi), l = TS.Broadcast(lo), kv = TS.Broadcast(k), c1v = TS.Broadcast(-c1), c2v = TS.Broadcast(-c2);
        long w = TS.Width, i = 0;
        if (stream)
        {
            for (; i < n && ((nint)(dx + i) & (nint)(w * 4 - 1)) != 0; i++)
                dx[i] = MathF.FusedMultiplyAdd((x[i] - hi) - lo, -c2, MathF.FusedMultiplyAdd(dy[i], k, -c1));
            for (; i <= n - w; i += w)
            {
                TV d = TS.Sub(TS.Sub(TS.Load(x + i), h), l);
                TS.StoreNonTemporal(TS.MulAdd(d, c2v, TS.MulAdd(TS.Load(dy + i), kv, c1v)), dx + i);
            }
        }
        for (; i <= n - w; i += w)
        {
            TV d = TS.Sub(TS.Sub(TS.Load(x + i), h), l);
            TS.Store(TS.MulAdd(d, c2v, TS.MulAdd(TS.Load(dy + i), kv, c1v)), dx + i);
        }
        for (; i < n; i++)
            dx[i] = MathF.FusedMultiplyAdd((x[i] - hi) - lo, -c2, MathF.FusedMultiplyAdd(dy[i], k, -c1));
    }
}
