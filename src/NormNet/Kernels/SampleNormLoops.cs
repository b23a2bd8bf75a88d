using System.Runtime.CompilerServices;

namespace NormNet.Kernels;

/// <summary>
/// The inner loops of <see cref="SampleNorm"/> whose affine varies per element (LayerNorm, and GroupNorm over (N, C)
/// input): gamma and beta are vectors read alongside x. The per-channel-constant loops are
/// <see cref="BatchNormLoops"/>' plane loops. Deviations are formed as <c>d = (x - hi) - lo</c> (hi + lo is the
/// double mean split into two floats), sums run in float vector accumulators over blocks of at most
/// <see cref="BatchNormLoops.Block"/> elements with the block totals added in double.
/// </summary>
internal static unsafe class SampleNormLoops
{
    /// <summary>y[i] = ((x[i] - hi) - lo) * inv * g[i] + b[i]; b may be null (no shift).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowNormalizeAffine<TS, TV>(float* x, float* y, long n, float hi, float lo, float inv, float* g, float* b)
        where TS : ISimd<TV> where TV : struct
    {
        TV h = TS.Broadcast(hi), l = TS.Broadcast(lo), iv = TS.Broadcast(inv);
        long w = TS.Width, i = 0;
        if (b == null)
        {
            // y = (d * inv) * g
            for (; i <= n - w; i += w) TS.Store(TS.Mul(TS.Mul(TS.Sub(TS.Sub(TS.Load(x + i), h), l), iv), TS.Load(g + i)), y + i);
            for (; i < n; i++) y[i] = ((x[i] - hi) - lo) * inv * g[i];
            return;
        }
        // y = (d * inv) * g + b
        for (; i <= n - 2 * w; i += 2 * w)
        {
            TS.Store(TS.MulAdd(TS.Mul(TS.Sub(TS.Sub(TS.Load(x + i), h), l), iv), TS.Load(g + i), TS.Load(b + i)), y + i);
            TS.Store(TS.MulAdd(TS.Mul(TS.Sub(TS.Sub(TS.Load(x + i + w), h), l), iv), TS.Load(g + i + w), TS.Load(b + i + w)), y + i + w);
        }
        for (; i <= n - w; i += w) TS.Store(TS.MulAdd(TS.Mul(TS.Sub(TS.Sub(TS.Load(x + i), h), l), iv), TS.Load(g + i), TS.Load(b + i)), y + i);
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(((x[i] - hi) - lo) * inv, g[i], b[i]);
    }

    /// <summary>(sum_i dy[i] * g[i], sum_i dy[i] * g[i] * ((x[i] - hi) - lo)): the row sums of dxhat = dy * gamma and of
    /// dxhat * (x - mean). Float blocks added in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (double SumDxhat, double SumDxhatD) RowSumGradWeighted<TS, TV>(float* dy, float* x, float* g, long n, float hi, float lo)
        where TS : ISimd<TV> where TV : struct
    {
        double sumA = 0, sumB = 0;
        TV h = TS.Broadcast(hi), l = TS.Broadcast(lo);
        for (long start = 0; start < n; start += BatchNormLoops.Block)
        {
            int len = (int)Math.Min(BatchNormLoops.Block, n - start), w = TS.Width, i = 0;
            float* pdy = dy + start, px = x + start, pg = g + start;
            TV a0 = TS.Zero, a1 = TS.Zero, b0 = TS.Zero, b1 = TS.Zero;
            for (; i <= len - 2 * w; i += 2 * w)
            {
                // e = dy * g; a += e; b += e * d
                TV e0 = TS.Mul(TS.Load(pdy + i), TS.Load(pg + i)), e1 = TS.Mul(TS.Load(pdy + i + w), TS.Load(pg + i + w));
                a0 = TS.Add(a0, e0);
                a1 = TS.Add(a1, e1);
                b0 = TS.MulAdd(e0, TS.Sub(TS.Sub(TS.Load(px + i), h), l), b0);
                b1 = TS.MulAdd(e1, TS.Sub(TS.Sub(TS.Load(px + i + w), h), l), b1);
            }
            for (; i <= len - w; i += w)
            {
                TV e0 = TS.Mul(TS.Load(pdy + i), TS.Load(pg + i));
                a0 = TS.Add(a0, e0);
                b0 = TS.MulAdd(e0, TS.Sub(TS.Sub(TS.Load(px + i), h), l), b0);
            }
            float a = TS.Sum(TS.Add(a0, a1)), b = TS.Sum(TS.Add(b0, b1));
            for (; i < len; i++)
            {
                float e = pdy[i] * pg[i];
                a += e;
                b += e * ((px[i] - hi) - lo);
            }
            sumA += a;
            sumB += b;
        }
        return (sumA, sumB);
    }

    /// <summary>dx[i] = dy[i] * g[i] * inv - c1 - ((x[i] - hi) - lo) * c2: the input gradient with a per-element gamma.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowApplyGradWeighted<TS, TV>(float* dy, float* x, float* dx, float* g, long n, float hi, float lo, float inv, float c1, float c2)
        where TS : ISimd<TV> where TV : struct
    {
        TV h = TS.Broadcast(hi), l = TS.Broadcast(lo), iv = TS.Broadcast(inv), c1v = TS.Broadcast(-c1), c2v = TS.Broadcast(-c2);
        long w = TS.Width, i = 0;
        for (; i <= n - w; i += w)
        {
            TV d = TS.Sub(TS.Sub(TS.Load(x + i), h), l);
            TV e = TS.Mul(TS.Load(dy + i), TS.Load(g + i));
            TS.Store(TS.MulAdd(d, c2v, TS.MulAdd(e, iv, c1v)), dx + i);
        }
        for (; i < n; i++)
            dx[i] = MathF.FusedMultiplyAdd((x[i] - hi) - lo, -c2, MathF.FusedMultiplyAdd(dy[i] * g[i], inv, -c1));
    }

    /// <summary>dgamma[i] += dy[i] * ((x[i] - hi) - lo) * inv and dbeta[i] += dy[i] into float accumulators: one row's
    /// contribution to the per-element parameter gradients (a chunk sums at most <see cref="BatchNormLoops.Block"/> rows
    /// so, then its totals move to double). Either accumulator may be null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowAccumulateParamGrad<TS, TV>(float* dy, float* x, long n, float hi, float lo, float inv, float* dgamma, float* dbeta)
        where TS : ISimd<TV> where TV : struct
    {
        TV h = TS.Broadcast(hi), l = TS.Broadcast(lo), iv = TS.Broadcast(inv);
        long w = TS.Width, i = 0;
        for (; i <= n - w; i += w)
        {
            TV g = TS.Load(dy + i);
            // dgamma += dy * xhat; dbeta += dy
            if (dgamma != null) TS.Store(TS.MulAdd(g, TS.Mul(TS.Sub(TS.Sub(TS.Load(x + i), h), l), iv), TS.Load(dgamma + i)), dgamma + i);
            if (dbeta != null) TS.Store(TS.Add(TS.Load(dbeta + i), g), dbeta + i);
        }
        for (; i < n; i++)
        {
            if (dgamma != null) dgamma[i] = MathF.FusedMultiplyAdd(dy[i], ((x[i] - hi) - lo) * inv, dgamma[i]);
            if (dbeta != null) dbeta[i] += dy[i];
        }
    }
}
