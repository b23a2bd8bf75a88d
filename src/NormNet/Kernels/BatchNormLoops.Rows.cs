using System.Runtime.CompilerServices;
namespace NormNet.Kernels;

// Row loops (channels-last and (N, C) inputs): a block of `rows` rows of `c` channels, row r starting at x + r * ld
// (ld = c for a whole row; ld > c for a column block of a wider matrix). Rows go in blocks of at most 16 KB
// (BlockRows); each block is swept once per column tile of four vectors, with that tile's per-channel constants and
// accumulators held in registers while the block sits in L1. Reloading the constants for every vector instead
// (one sweep per row) measured 1.7-2.5x slower on (100352, 64) and (25088, 256). A row's tiles are adjacent, so
// memory streams. Sums run in float within a block (at most RowBlock rows) and move to double at its end.
internal static unsafe partial class BatchNormLoops
{
    /// <summary>The most rows summed in float before the column sums move to double.</summary>
    public const int RowBlock = 64;

    /// <summary>Rows per block for <paramref name="c"/> channels: at most 4096 floats and <see cref="RowBlock"/> rows.</summary>
    public static int BlockRows(int c) => Math.Clamp(4096 / Math.Max(c, 1), 1, RowBlock);

    private static bool CanStream<TS, TV>(bool stream, float* y, int ld) where TS : ISimd<TV> where TV : struct =>
        stream && ld % TS.Width == 0 && ((nint)y & (nint)(TS.Width * sizeof(float) - 1)) == 0;

    /// <summary>sum[j] += sum_r (x[r, j] - pivot[j]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowsSumShifted<TS, TV>(float* x, int ld, int rows, int c, float* pivot, double* sum)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width, br = BlockRows(c);
        for (int r0 = 0; r0 < rows; r0 += br)
        {
            int r1 = Math.Min(rows, r0 + br), j = 0;
            for (; j <= c - 4 * w; j += 4 * w)
            {
                TV p0 = TS.Load(pivot + j), p1 = TS.Load(pivot + j + w), p2 = TS.Load(pivot + j + 2 * w), p3 = TS.Load(pivot + j + 3 * w);
                TV a0 = TS.Zero, a1 = TS.Zero, a2 = TS.Zero, a3 = TS.Zero;
                for (int r = r0; r < r1; r++)
                {
                    float* row = x + (long)r * ld + j;
                    a0 = TS.Add(a0, TS.Sub(TS.Load(row), p0)); // a += x - pivot
                    a1 = TS.Add(a1, TS.Sub(TS.Load(row + w), p1));
                    a2 = TS.Add(a2, TS.Sub(TS.Load(row + 2 * w), p2));
                    a3 = TS.Add(a3, TS.Sub(TS.Load(row + 3 * w), p3));
                }
                TS.AddToDouble(a0, sum + j);
                TS.AddToDouble(a1, sum + j + w);
                TS.AddToDouble(a2, sum + j + 2 * w);
                TS.AddToDouble(a3, sum + j + 3 * w);
            }
            for (; j <= c - w; j += w)
            {
                TV p = TS.Load(pivot + j), a = TS.Zero;
                for (int r = r0; r < r1; r++) a = TS.Add(a, TS.Sub(TS.Load(x + (long)r * ld + j), p));
                TS.AddToDouble(a, sum + j);
            }
            for (; j < c; j++)
            {
                double a = 0;
                for (int r = r0; r < r1; r++) a += x[(long)r * ld + j] - pivot[j];
                sum[j] += a;
            }
        }
    }

    /// <summary>sumD[j] += sum_r d; sumD2[j] += sum_r d^2 with d = (x[r, j] - hi[j]) - lo[j]: the second pass of the
    /// corrected two-pass variance.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowsSumDeviations<TS, TV>(float* x, int ld, int rows, int c, float* hi, float* lo, double* sumD, double* sumD2)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width, br = BlockRows(c);
        for (int r0 = 0; r0 < rows; r0 += br)
        {
            int r1 = Math.Min(rows, r0 + br), j = 0;
            for (; j <= c - 4 * w; j += 4 * w)
            {
                TV h0 = TS.Load(hi + j), h1 = TS.Load(hi + j + w), h2 = TS.Load(hi + j + 2 * w), h3 = TS.Load(hi + j + 3 * w);
                TV l0 = TS.Load(lo + j), l1 = TS.Load(lo + j + w), l2 = TS.Load(lo + j + 2 * w), l3 = TS.Load(lo + j + 3 * w);
                TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero, q0 = TS.Zero, q1 = TS.Zero, q2 = TS.Zero, q3 = TS.Zero;
                for (int r = r0; r < r1; r++)
                {
                    float* row = x + (long)r * ld + j;
                    TV d0 = TS.Sub(TS.Sub(TS.Load(row), h0), l0); // d = (x - hi) - lo; s += d; q += d * d
                    TV d1 = TS.Sub(TS.Sub(TS.Load(row + w), h1), l1);
                    TV d2 = TS.Sub(TS.Sub(TS.Load(row + 2 * w), h2), l2);
                    TV d3 = TS.Sub(TS.Sub(TS.Load(row + 3 * w), h3), l3);
                    s0 = TS.Add(s0, d0); q0 = TS.MulAdd(d0, d0, q0);
                    s1 = TS.Add(s1, d1); q1 = TS.MulAdd(d1, d1, q1);
                    s2 = TS.Add(s2, d2); q2 = TS.MulAdd(d2, d2, q2);
                    s3 = TS.Add(s3, d3); q3 = TS.MulAdd(d3, d3, q3);
                }
                TS.AddToDouble(s0, sumD + j); TS.AddToDouble(q0, sumD2 + j);
                TS.AddToDouble(s1, sumD + j + w); TS.AddToDouble(q1, sumD2 + j + w);
                TS.AddToDouble(s2, sumD + j + 2 * w); TS.AddToDouble(q2, sumD2 + j + 2 * w);
                TS.AddToDouble(s3, sumD + j + 3 * w); TS.AddToDouble(q3, sumD2 + j + 3 * w);
            }
            for (; j <= c - w; j += w)
            {
                TV h = TS.Load(hi + j), l = TS.Load(lo + j), s = TS.Zero, q = TS.Zero;
                for (int r = r0; r < r1; r++)
                {
                    TV d = TS.Sub(TS.Sub(TS.Load(x + (long)r * ld + j), h), l);
                    s = TS.Add(s, d);
                    q = TS.MulAdd(d, d, q);
                }
                TS.AddToDouble(s, sumD + j);
                TS.AddToDouble(q, sumD2 + j);
            }
            for (; j < c; j++)
            {
                double s = 0, q = 0;
                for (int r = r0; r < r1; r++)
                {
                    double d = (x[(long)r * ld + j] - hi[j]) - lo[j];
                    s += d;
                    q += d * d;
                }
                sumD[j] += s;
                sumD2[j] += q;
            }
        }
    }

    /// <summary>y[r, j] = (x[r, j] - hi[j]) * scale[j] + shift[j]: the training normalization, with the low part of the
    /// mean folded into the shift (shift = beta - lo * scale), so x - hi stays exact for x near the mean.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowsNormalize<TS, TV>(float* x, float* y, int ld, int rows, int c, float* hi, float* scale, float* shift, bool stream = false)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width, br = BlockRows(c);
        bool nt = CanStream<TS, TV>(stream, y, ld);
        for (int r0 = 0; r0 < rows; r0 += br)
        {
            int r1 = Math.Min(rows, r0 + br), j = 0;
            for (; j <= c - 4 * w; j += 4 * w)
            {
                TV h0 = TS.Load(hi + j), h1 = TS.Load(hi + j + w), h2 = TS.Load(hi + j + 2 * w), h3 = TS.Load(hi + j + 3 * w);
                TV a0 = TS.Load(scale + j), a1 = TS.Load(scale + j + w), a2 = TS.Load(scale + j + 2 * w), a3 = TS.Load(scale + j + 3 * w);
                TV b0 = TS.Load(shift + j), b1 = TS.Load(shift + j + w), b2 = TS.Load(shift + j + 2 * w), b3 = TS.Load(shift + j + 3 * w);
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * ld + j;
                    TV v0 = TS.MulAdd(TS.Sub(TS.Load(x + o), h0), a0, b0); // y = (x - hi) * scale + shift
                    TV v1 = TS.MulAdd(TS.Sub(TS.Load(x + o + w), h1), a1, b1);
                    TV v2 = TS.MulAdd(TS.Sub(TS.Load(x + o + 2 * w), h2), a2, b2);
                    TV v3 = TS.MulAdd(TS.Sub(TS.Load(x + o + 3 * w), h3), a3, b3);
                    Store4<TS, TV>(v0, v1, v2, v3, y + o, nt);
                }
            }
            for (; j <= c - w; j += w)
            {
                TV h = TS.Load(hi + j), a = TS.Load(scale + j), b = TS.Load(shift + j);
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * ld + j;
                    Store<TS, TV>(TS.MulAdd(TS.Sub(TS.Load(x + o), h), a, b), y + o, nt);
                }
            }
            for (; j < c; j++)
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * ld + j;
                    y[o] = MathF.FusedMultiplyAdd(x[o] - hi[j], scale[j], shift[j]);
                }
        }
    }

    /// <summary>y[r, j] = x[r, j] * scale[j] + shift[j]: the inference transform (and the frozen backward, dx = dy * k).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowsScaleShift<TS, TV>(float* x, float* y, int ld, int rows, int c, float* scale, float* shift, bool stream = false)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width, br = BlockRows(c);
        bool nt = CanStream<TS, TV>(stream, y, ld);
        for (int r0 = 0; r0 < rows; r0 += br)
        {
            int r1 = Math.Min(rows, r0 + br), j = 0;
            for (; j <= c - 4 * w; j += 4 * w)
            {
                TV a0 = TS.Load(scale + j), a1 = TS.Load(scale + j + w), a2 = TS.Load(scale + j + 2 * w), a3 = TS.Load(scale + j + 3 * w);
                TV b0 = TS.Load(shift + j), b1 = TS.Load(shift + j + w), b2 = TS.Load(shift + j + 2 * w), b3 = TS.Load(shift + j + 3 * w);
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * ld + j;
                    TV v0 = TS.MulAdd(TS.Load(x + o), a0, b0); // y = x * scale + shift
                    TV v1 = TS.MulAdd(TS.Load(x + o + w), a1, b1);
                    TV v2 = TS.MulAdd(TS.Load(x + o + 2 * w), a2, b2);
                    TV v3 = TS.MulAdd(TS.Load(x + o + 3 * w), a3, b3);
                    Store4<TS, TV>(v0, v1, v2, v3, y + o, nt);
                }
            }
            for (; j <= c - w; j += w)
            {
                TV a = TS.Load(scale + j), b = TS.Load(shift + j);
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * ld + j;
                    Store<TS, TV>(TS.MulAdd(TS.Load(x + o), a, b), y + o, nt);
                }
            }
            for (; j < c; j++)
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * ld + j;
                    y[o] = MathF.FusedMultiplyAdd(x[o], scale[j], shift[j]);
                }
        }
    }

    /// <summary>sumDy[j] += sum_r dy[r, j]; sumDyD[j] += sum_r dy[r, j] * ((x[r, j] - hi[j]) - lo[j]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowsSumGrad<TS, TV>(float* dy, float* x, int ld, int rows, int c, float* hi, float* lo, double* sumDy, double* sumDyD)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width, br = BlockRows(c);
        for (int r0 = 0; r0 < rows; r0 += br)
        {
            int r1 = Math.Min(rows, r0 + br), j = 0;
            for (; j <= c - 4 * w; j += 4 * w)
            {
                TV h0 = TS.Load(hi + j), h1 = TS.Load(hi + j + w), h2 = TS.Load(hi + j + 2 * w), h3 = TS.Load(hi + j + 3 * w);
                TV l0 = TS.Load(lo + j), l1 = TS.Load(lo + j + w), l2 = TS.Load(lo + j + 2 * w), l3 = TS.Load(lo + j + 3 * w);
                TV s0 = TS.Zero, s1 = TS.Zero, s2 = TS.Zero, s3 = TS.Zero, t0 = TS.Zero, t1 = TS.Zero, t2 = TS.Zero, t3 = TS.Zero;
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * ld + j;
                    TV g0 = TS.Load(dy + o), g1 = TS.Load(dy + o + w), g2 = TS.Load(dy + o + 2 * w), g3 = TS.Load(dy + o + 3 * w);
                    s0 = TS.Add(s0, g0); // s += dy; t += dy * ((x - hi) - lo)
                    s1 = TS.Add(s1, g1);
                    s2 = TS.Add(s2, g2);
                    s3 = TS.Add(s3, g3);
                    t0 = TS.MulAdd(g0, TS.Sub(TS.Sub(TS.Load(x + o), h0), l0), t0);
                    t1 = TS.MulAdd(g1, TS.Sub(TS.Sub(TS.Load(x + o + w), h1), l1), t1);
                    t2 = TS.MulAdd(g2, TS.Sub(TS.Sub(TS.Load(x + o + 2 * w), h2), l2), t2);
                    t3 = TS.MulAdd(g3, TS.Sub(TS.Sub(TS.Load(x + o + 3 * w), h3), l3), t3);
                }
                TS.AddToDouble(s0, sumDy + j); TS.AddToDouble(t0, sumDyD + j);
                TS.AddToDouble(s1, sumDy + j + w); TS.AddToDouble(t1, sumDyD + j + w);
                TS.AddToDouble(s2, sumDy + j + 2 * w); TS.AddToDouble(t2, sumDyD + j + 2 * w);
                TS.AddToDouble(s3, sumDy + j + 3 * w); TS.AddToDouble(t3, sumDyD + j + 3 * w);
            }
            for (; j <= c - w; j += w)
            {
                TV h = TS.Load(hi + j), l = TS.Load(lo + j), s = TS.Zero, t = TS.Zero;
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * ld + j;
                    TV g = TS.Load(dy + o);
                    s = TS.Add(s, g);
                    t = TS.MulAdd(g, TS.Sub(TS.Sub(TS.Load(x + o), h), l), t);
                }
                TS.AddToDouble(s, sumDy + j);
                TS.AddToDouble(t, sumDyD + j);
            }
            for (; j < c; j++)
            {
                double s = 0, t = 0;
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * ld + j;
                    s += dy[o];
                    t += dy[o] * ((x[o] - hi[j]) - lo[j]);
                }
                sumDy[j] += s;
                sumDyD[j] += t;
            }
        }
    }

    /// <summary>dx[r, j] = (x[r, j] - hi[j]) * q[j] + (dy[r, j] * k[j] + p[j]): the training backward, with
    /// q = -c2 and p = -c1 - lo * q (the low part of the mean folded into p).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RowsApplyGrad<TS, TV>(float* dy, float* x, float* dx, int ld, int rows, int c, float* hi, float* k, float* q, float* p, bool stream = false)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width, br = BlockRows(c);
        bool nt = CanStream<TS, TV>(stream, dx, ld);
        for (int r0 = 0; r0 < rows; r0 += br)
        {
            int r1 = Math.Min(rows, r0 + br), j = 0;
            for (; j <= c - 4 * w; j += 4 * w)
            {
                TV h0 = TS.Load(hi + j), h1 = TS.Load(hi + j + w), h2 = TS.Load(hi + j + 2 * w), h3 = TS.Load(hi + j + 3 * w);
                TV k0 = TS.Load(k + j), k1 = TS.Load(k + j + w), k2 = TS.Load(k + j + 2 * w), k3 = TS.Load(k + j + 3 * w);
                TV q0 = TS.Load(q + j), q1 = TS.Load(q + j + w), q2 = TS.Load(q + j + 2 * w), q3 = TS.Load(q + j + 3 * w);
                TV p0 = TS.Load(p + j), p1 = TS.Load(p + j + w), p2 = TS.Load(p + j + 2 * w), p3 = TS.Load(p + j + 3 * w);
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * ld + j;
                    TV v0 = TS.MulAdd(TS.Sub(TS.Load(x + o), h0), q0, TS.MulAdd(TS.Load(dy + o), k0, p0)); // dx = (x - hi) * q + (dy * k + p)
                    TV v1 = TS.MulAdd(TS.Sub(TS.Load(x + o + w), h1), q1, TS.MulAdd(TS.Load(dy + o + w), k1, p1));
                    TV v2 = TS.MulAdd(TS.Sub(TS.Load(x + o + 2 * w), h2), q2, TS.MulAdd(TS.Load(dy + o + 2 * w), k2, p2));
                    TV v3 = TS.MulAdd(TS.Sub(TS.Load(x + o + 3 * w), h3), q3, TS.MulAdd(TS.Load(dy + o + 3 * w), k3, p3));
                    Store4<TS, TV>(v0, v1, v2, v3, dx + o, nt);
                }
            }
            for (; j <= c - w; j += w)
            {
                TV h = TS.Load(hi + j), kv = TS.Load(k + j), qv = TS.Load(q + j), pv = TS.Load(p + j);
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * ld + j;
                    Store<TS, TV>(TS.MulAdd(TS.Sub(TS.Load(x + o), h), qv, TS.MulAdd(TS.Load(dy + o), kv, pv)), dx + o, nt);
                }
            }
            for (; j < c; j++)
                for (int r = r0; r < r1; r++)
                {
                    long o = (long)r * ld + j;
                    dx[o] = MathF.FusedMultiplyAdd(x[o] - hi[j], q[j], MathF.FusedMultiplyAdd(dy[o], k[j], p[j]));
                }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TS, TV>(TV v, float* p, bool nt) where TS : ISimd<TV> where TV : struct
    {
        if (nt) TS.StoreNonTemporal(v, p);
        else TS.Store(v, p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4<TS, TV>(TV v0, TV v1, TV v2, TV v3, float* p, bool nt) where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width;
        if (nt)
        {
            TS.StoreNonTemporal(v0, p);
            TS.StoreNonTemporal(v1, p + w);
            TS.StoreNonTemporal(v2, p + 2 * w);
            TS.StoreNonTemporal(v3, p + 3 * w);
        }
        else
        {
            TS.Store(v0, p);
            TS.Store(v1, p + w);
            TS.Store(v2, p + 2 * w);
            TS.Store(v3, p + 3 * w);
        }
    }
}
