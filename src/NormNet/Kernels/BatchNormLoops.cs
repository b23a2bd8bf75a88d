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
internal static unsafe class BatchNormLoops
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

    // ---------------------------------------------------------------- row loops (across channels)

    /// <summary>Rows summed in float before the column sums move to double.</summary>
    public const int RowBlock = 64;

    /// <summary>sum[c] += sum_r (x[r, c] - pivot[c]) over <paramref name="rows"/> rows of <paramref name="c"/> channels.
    /// Columns go in tiles of four vectors, each swept down the rows with its accumulators in registers (each row's
    /// tile is contiguous, so memory streams); float over blocks of <see cref="RowBlock"/> rows, then double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowsSumShifted<TS, TV>(float* x, int rows, int c, float* pivot, double* sum)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width, j = 0;
        for (; j <= c - 4 * w; j += 4 * w)
        {
            TV p0 = TS.Load(pivot + j), p1 = TS.Load(pivot + j + w), p2 = TS.Load(pivot + j + 2 * w), p3 = TS.Load(pivot + j + 3 * w);
            for (int r0 = 0; r0 < rows; r0 += RowBlock)
            {
                int r1 = Math.Min(rows, r0 + RowBlock);
                TV a0 = TS.Zero, a1 = TS.Zero, a2 = TS.Zero, a3 = TS.Zero;
                for (int r = r0; r < r1; r++)
                {
                    float* row = x + (long)r * c + j;
                    a0 = TS.Add(a0, TS.Sub(TS.Load(row), p0));
                    a1 = TS.Add(a1, TS.Sub(TS.Load(row + w), p1));
                    a2 = TS.Add(a2, TS.Sub(TS.Load(row + 2 * w), p2));
                    a3 = TS.Add(a3, TS.Sub(TS.Load(row + 3 * w), p3));
                }
                TS.AddToDouble(a0, sum + j);
                TS.AddToDouble(a1, sum + j + w);
                TS.AddToDouble(a2, sum + j + 2 * w);
                TS.AddToDouble(a3, sum + j + 3 * w);
            }
        }
        for (; j <= c - w; j += w)
        {
            TV pv = TS.Load(pivot + j);
            for (int r0 = 0; r0 < rows; r0 += RowBlock)
            {
                int r1 = Math.Min(rows, r0 + RowBlock);
                TV a = TS.Zero;
                for (int r = r0; r < r1; r++) a = TS.Add(a, TS.Sub(TS.Load(x + (long)r * c + j), pv));
                TS.AddToDouble(a, sum + j);
            }
        }
        for (; j < c; j++)
        {
            double a = 0;
            for (int r = 0; r < rows; r++) a += x[(long)r * c + j] - pivot[j];
            sum[j] += a;
        }
    }

    /// <summary>sumD[c] += sum_r d[r, c]; sumD2[c] += sum_r d[r, c]^2 with d = (x[r, c] - hi[c]) - lo[c] (tiles of two
    /// vectors, float over row blocks, then double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowsSumDeviations<TS, TV>(float* x, int rows, int c, float* hi, float* lo, double* sumD, double* sumD2)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width, j = 0;
        for (; j <= c - 2 * w; j += 2 * w)
        {
            TV h0 = TS.Load(hi + j), l0 = TS.Load(lo + j), h1 = TS.Load(hi + j + w), l1 = TS.Load(lo + j + w);
            for (int r0 = 0; r0 < rows; r0 += RowBlock)
            {
                int r1 = Math.Min(rows, r0 + RowBlock);
                TV s0 = TS.Zero, q0 = TS.Zero, s1 = TS.Zero, q1 = TS.Zero;
                for (int r = r0; r < r1; r++)
                {
                    float* row = x + (long)r * c + j;
                    TV d0 = TS.Sub(TS.Sub(TS.Load(row), h0), l0);
                    TV d1 = TS.Sub(TS.Sub(TS.Load(row + w), h1), l1);
                    s0 = TS.Add(s0, d0);
                    q0 = TS.MulAdd(d0, d0, q0);
                    s1 = TS.Add(s1, d1);
                    q1 = TS.MulAdd(d1, d1, q1);
                }
                TS.AddToDouble(s0, sumD + j);
                TS.AddToDouble(q0, sumD2 + j);
                TS.AddToDouble(s1, sumD + j + w);
                TS.AddToDouble(q1, sumD2 + j + w);
            }
        }
        for (; j <= c - w; j += w)
        {
            TV h = TS.Load(hi + j), l = TS.Load(lo + j);
            for (int r0 = 0; r0 < rows; r0 += RowBlock)
            {
                int r1 = Math.Min(rows, r0 + RowBlock);
                TV s = TS.Zero, q = TS.Zero;
                for (int r = r0; r < r1; r++)
                {
                    TV d = TS.Sub(TS.Sub(TS.Load(x + (long)r * c + j), h), l);
                    s = TS.Add(s, d);
                    q = TS.MulAdd(d, d, q);
                }
                TS.AddToDouble(s, sumD + j);
                TS.AddToDouble(q, sumD2 + j);
            }
        }
        for (; j < c; j++)
        {
            double s = 0, q = 0;
            for (int r = 0; r < rows; r++)
            {
                double d = (x[(long)r * c + j] - hi[j]) - lo[j];
                s += d;
                q += d * d;
            }
            sumD[j] += s;
            sumD2[j] += q;
        }
    }

    /// <summary>y[r, c] = ((x[r, c] - hi[c]) - lo[c]) * scale[c] + shift[c] over <paramref name="rows"/> rows: tiles of two
    /// vectors with their per-channel constants in registers, swept down the rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowsNormalize<TS, TV>(float* x, float* y, int rows, int c, float* hi, float* lo, float* scale, float* shift, bool stream = false)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width, j = 0;
        bool nt = stream && c % w == 0 && ((nint)y & (nint)(w * 4 - 1)) == 0;
        if (c > 2 * w)
        {
            for (int r = 0; r < rows; r++)
            {
                // wide rows: sweep each row left to right so memory streams
                float* xr = x + (long)r * c, yr = y + (long)r * c;
                int jj = 0;
                for (; jj <= c - w; jj += w)
                {
                    TV v = TS.MulAdd(TS.Sub(TS.Sub(TS.Load(xr + jj), TS.Load(hi + jj)), TS.Load(lo + jj)), TS.Load(scale + jj), TS.Load(shift + jj));
                    if (nt) TS.StoreNonTemporal(v, yr + jj);
                    else TS.Store(v, yr + jj);
                }
                for (; jj < c; jj++) yr[jj] = MathF.FusedMultiplyAdd((xr[jj] - hi[jj]) - lo[jj], scale[jj], shift[jj]);
            }
            return;
        }
        for (; j <= c - 2 * w; j += 2 * w)
        {
            TV h0 = TS.Load(hi + j), l0 = TS.Load(lo + j), a0 = TS.Load(scale + j), b0 = TS.Load(shift + j);
            TV h1 = TS.Load(hi + j + w), l1 = TS.Load(lo + j + w), a1 = TS.Load(scale + j + w), b1 = TS.Load(shift + j + w);
            for (int r = 0; r < rows; r++)
            {
                long o = (long)r * c + j;
                TV v0 = TS.MulAdd(TS.Sub(TS.Sub(TS.Load(x + o), h0), l0), a0, b0);
                TV v1 = TS.MulAdd(TS.Sub(TS.Sub(TS.Load(x + o + w), h1), l1), a1, b1);
                if (nt) { TS.StoreNonTemporal(v0, y + o); TS.StoreNonTemporal(v1, y + o + w); }
                else { TS.Store(v0, y + o); TS.Store(v1, y + o + w); }
            }
        }
        for (; j <= c - w; j += w)
        {
            TV h = TS.Load(hi + j), l = TS.Load(lo + j), a = TS.Load(scale + j), b = TS.Load(shift + j);
            for (int r = 0; r < rows; r++)
            {
                long o = (long)r * c + j;
                TV v = TS.MulAdd(TS.Sub(TS.Sub(TS.Load(x + o), h), l), a, b);
                if (nt) TS.StoreNonTemporal(v, y + o);
                else TS.Store(v, y + o);
            }
        }
        for (; j < c; j++)
            for (int r = 0; r < rows; r++)
            {
                long o = (long)r * c + j;
                y[o] = MathF.FusedMultiplyAdd((x[o] - hi[j]) - lo[j], scale[j], shift[j]);
            }
    }

    /// <summary>y[r, c] = x[r, c] * scale[c] + shift[c] over <paramref name="rows"/> rows (the inference transform).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowsScaleShift<TS, TV>(float* x, float* y, int rows, int c, float* scale, float* shift, bool stream = false)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width, j = 0;
        bool nt = stream && c % w == 0 && ((nint)y & (nint)(w * 4 - 1)) == 0;
        if (c > 2 * w)
        {
            for (int r = 0; r < rows; r++)
            {
                float* xr = x + (long)r * c, yr = y + (long)r * c;
                int jj = 0;
                for (; jj <= c - w; jj += w)
                {
                    TV v = TS.MulAdd(TS.Load(xr + jj), TS.Load(scale + jj), TS.Load(shift + jj));
                    if (nt) TS.StoreNonTemporal(v, yr + jj);
                    else TS.Store(v, yr + jj);
                }
                for (; jj < c; jj++) yr[jj] = MathF.FusedMultiplyAdd(xr[jj], scale[jj], shift[jj]);
            }
            return;
        }
        for (; j <= c - 2 * w; j += 2 * w)
        {
            TV a0 = TS.Load(scale + j), b0 = TS.Load(shift + j), a1 = TS.Load(scale + j + w), b1 = TS.Load(shift + j + w);
            for (int r = 0; r < rows; r++)
            {
                long o = (long)r * c + j;
                TV v0 = TS.MulAdd(TS.Load(x + o), a0, b0), v1 = TS.MulAdd(TS.Load(x + o + w), a1, b1);
                if (nt) { TS.StoreNonTemporal(v0, y + o); TS.StoreNonTemporal(v1, y + o + w); }
                else { TS.Store(v0, y + o); TS.Store(v1, y + o + w); }
            }
        }
        for (; j <= c - w; j += w)
        {
            TV a = TS.Load(scale + j), b = TS.Load(shift + j);
            for (int r = 0; r < rows; r++)
            {
                long o = (long)r * c + j;
                TV v = TS.MulAdd(TS.Load(x + o), a, b);
                if (nt) TS.StoreNonTemporal(v, y + o);
                else TS.Store(v, y + o);
            }
        }
        for (; j < c; j++)
            for (int r = 0; r < rows; r++)
            {
                long o = (long)r * c + j;
                y[o] = MathF.FusedMultiplyAdd(x[o], scale[j], shift[j]);
            }
    }

    /// <summary>sumDy[c] += sum_r dy[r, c]; sumDyD[c] += sum_r dy[r, c] * ((x[r, c] - hi[c]) - lo[c]) (tiles of two
    /// vectors, float over row blocks, then double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowsSumGrad<TS, TV>(float* dy, float* x, int rows, int c, float* hi, float* lo, double* sumDy, double* sumDyD)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width, j = 0;
        for (; j <= c - 2 * w; j += 2 * w)
        {
            TV h0 = TS.Load(hi + j), l0 = TS.Load(lo + j), h1 = TS.Load(hi + j + w), l1 = TS.Load(lo + j + w);
            for (int r0 = 0; r0 < rows; r0 += RowBlock)
            {
                int r1 = Math.Min(rows, r0 + RowBlock);
                TV s0 = TS.Zero, t0 = TS.Zero, s1 = TS.Zero, t1 = TS.Zero;
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * c + j;
                    TV g0 = TS.Load(dy + o), g1 = TS.Load(dy + o + w);
                    s0 = TS.Add(s0, g0);
                    s1 = TS.Add(s1, g1);
                    t0 = TS.MulAdd(g0, TS.Sub(TS.Sub(TS.Load(x + o), h0), l0), t0);
                    t1 = TS.MulAdd(g1, TS.Sub(TS.Sub(TS.Load(x + o + w), h1), l1), t1);
                }
                TS.AddToDouble(s0, sumDy + j);
                TS.AddToDouble(t0, sumDyD + j);
                TS.AddToDouble(s1, sumDy + j + w);
                TS.AddToDouble(t1, sumDyD + j + w);
            }
        }
        for (; j <= c - w; j += w)
        {
            TV h = TS.Load(hi + j), l = TS.Load(lo + j);
            for (int r0 = 0; r0 < rows; r0 += RowBlock)
            {
                int r1 = Math.Min(rows, r0 + RowBlock);
                TV s = TS.Zero, t = TS.Zero;
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * c + j;
                    TV g = TS.Load(dy + o);
                    s = TS.Add(s, g);
                    t = TS.MulAdd(g, TS.Sub(TS.Sub(TS.Load(x + o), h), l), t);
                }
                TS.AddToDouble(s, sumDy + j);
                TS.AddToDouble(t, sumDyD + j);
            }
        }
        for (; j < c; j++)
        {
            double s = 0, t = 0;
            for (int r = 0; r < rows; r++)
            {
                long o = (long)r * c + j;
                s += dy[o];
                t += dy[o] * ((x[o] - hi[j]) - lo[j]);
            }
            sumDy[j] += s;
            sumDyD[j] += t;
        }
    }

    /// <summary>dx[r, c] = dy[r, c] * k[c] - c1[c] - ((x[r, c] - hi[c]) - lo[c]) * c2[c] over <paramref name="rows"/> rows;
    /// pass negated c1, c2.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowsApplyGrad<TS, TV>(float* dy, float* x, float* dx, int rows, int c, float* hi, float* lo, float* k, float* negC1, float* negC2, bool stream = false)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width, j = 0;
        bool nt = stream && c % w == 0 && ((nint)dx & (nint)(w * 4 - 1)) == 0;
        if (c > 2 * w)
        {
            for (int r = 0; r < rows; r++)
            {
                float* dyr = dy + (long)r * c, xr = x + (long)r * c, dxr = dx + (long)r * c;
                int jj = 0;
                for (; jj <= c - w; jj += w)
                {
                    TV v = TS.MulAdd(TS.Sub(TS.Sub(TS.Load(xr + jj), TS.Load(hi + jj)), TS.Load(lo + jj)), TS.Load(negC2 + jj),
                        TS.MulAdd(TS.Load(dyr + jj), TS.Load(k + jj), TS.Load(negC1 + jj)));
                    if (nt) TS.StoreNonTemporal(v, dxr + jj);
                    else TS.Store(v, dxr + jj);
                }
                for (; jj < c; jj++)
                    dxr[jj] = MathF.FusedMultiplyAdd((xr[jj] - hi[jj]) - lo[jj], negC2[jj], MathF.FusedMultiplyAdd(dyr[jj], k[jj], negC1[jj]));
            }
            return;
        }
        for (; j <= c - 2 * w; j += 2 * w)
        {
            TV h0 = TS.Load(hi + j), l0 = TS.Load(lo + j), k0 = TS.Load(k + j), p0 = TS.Load(negC1 + j), q0 = TS.Load(negC2 + j);
            TV h1 = TS.Load(hi + j + w), l1 = TS.Load(lo + j + w), k1 = TS.Load(k + j + w), p1 = TS.Load(negC1 + j + w), q1 = TS.Load(negC2 + j + w);
            for (int r = 0; r < rows; r++)
            {
                long o = (long)r * c + j;
                TV v0 = TS.MulAdd(TS.Sub(TS.Sub(TS.Load(x + o), h0), l0), q0, TS.MulAdd(TS.Load(dy + o), k0, p0));
                TV v1 = TS.MulAdd(TS.Sub(TS.Sub(TS.Load(x + o + w), h1), l1), q1, TS.MulAdd(TS.Load(dy + o + w), k1, p1));
                if (nt) { TS.StoreNonTemporal(v0, dx + o); TS.StoreNonTemporal(v1, dx + o + w); }
                else { TS.Store(v0, dx + o); TS.Store(v1, dx + o + w); }
            }
        }
        for (; j <= c - w; j += w)
        {
            TV h = TS.Load(hi + j), l = TS.Load(lo + j), kv = TS.Load(k + j), p = TS.Load(negC1 + j), q = TS.Load(negC2 + j);
            for (int r = 0; r < rows; r++)
            {
                long o = (long)r * c + j;
                TV v = TS.MulAdd(TS.Sub(TS.Sub(TS.Load(x + o), h), l), q, TS.MulAdd(TS.Load(dy + o), kv, p));
                if (nt) TS.StoreNonTemporal(v, dx + o);
                else TS.Store(v, dx + o);
            }
        }
        for (; j < c; j++)
            for (int r = 0; r < rows; r++)
            {
                long o = (long)r * c + j;
                dx[o] = MathF.FusedMultiplyAdd((x[o] - hi[j]) - lo[j], negC2[j], MathF.FusedMultiplyAdd(dy[o], k[j], negC1[j]));
            }
    }

}
