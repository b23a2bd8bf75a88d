using System.Runtime.CompilerServices;

namespace NormNet.Kernels;

public static unsafe partial class DirectConvolution
{
    // xp: phase planes at the tile's first position; taps: (count) offsets; w: the panel (count x Rows); yp: Rows rows of the output, ld apart
    /// <summary>acc[r, v] = sum over taps t = (c, kh, kw) of w[t, r] * xp[taps[t] + v*Width ..] (one FMA chain each, in tap order),
    /// for <paramref name="vectors"/> vectors: 4 (16 accumulators, with 32 vector registers), 2 (8, with 16; or a tail) or 1 (the last tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TS, TV>(int vectors, float* xp, int* taps, int count, float* w, float* yp, int ld)
        where TS : ISimd<TV> where TV : struct
    {
        int width = TS.Width;
        if (vectors == 4)
        {
            TV a00 = TS.Zero, a01 = TS.Zero, a02 = TS.Zero, a03 = TS.Zero, a10 = TS.Zero, a11 = TS.Zero, a12 = TS.Zero, a13 = TS.Zero, a20 = TS.Zero, a21 = TS.Zero, a22 = TS.Zero, a23 = TS.Zero, a30 = TS.Zero, a31 = TS.Zero, a32 = TS.Zero, a33 = TS.Zero;
            for (int t = 0; t < count; t++, w += Rows)
            {
                float* row = xp + taps[t];
                // acc[r, v] = fma(w[r], x[v], acc[r, v])
                TV x0 = TS.Load(row), x1 = TS.Load(row + 1 * width), x2 = TS.Load(row + 2 * width), x3 = TS.Load(row + 3 * width);
                TV wr;
                wr = TS.Broadcast(w[0]);
                a00 = TS.MulAdd(wr, x0, a00); a01 = TS.MulAdd(wr, x1, a01); a02 = TS.MulAdd(wr, x2, a02); a03 = TS.MulAdd(wr, x3, a03);
                wr = TS.Broadcast(w[1]);
                a10 = TS.MulAdd(wr, x0, a10); a11 = TS.MulAdd(wr, x1, a11); a12 = TS.MulAdd(wr, x2, a12); a13 = TS.MulAdd(wr, x3, a13);
                wr = TS.Broadcast(w[2]);
                a20 = TS.MulAdd(wr, x0, a20); a21 = TS.MulAdd(wr, x1, a21); a22 = TS.MulAdd(wr, x2, a22); a23 = TS.MulAdd(wr, x3, a23);
                wr = TS.Broadcast(w[3]);
                a30 = TS.MulAdd(wr, x0, a30); a31 = TS.MulAdd(wr, x1, a31); a32 = TS.MulAdd(wr, x2, a32); a33 = TS.MulAdd(wr, x3, a33);
            }
            Store<TS, TV>(yp + 0 * ld, a00, a01, a02, a03);
            Store<TS, TV>(yp + 1 * ld, a10, a11, a12, a13);
            Store<TS, TV>(yp + 2 * ld, a20, a21, a22, a23);
            Store<TS, TV>(yp + 3 * ld, a30, a31, a32, a33);
        }
        else if (vectors == 2)
        {
            TV a00 = TS.Zero, a01 = TS.Zero, a10 = TS.Zero, a11 = TS.Zero, a20 = TS.Zero, a21 = TS.Zero, a30 = TS.Zero, a31 = TS.Zero;
            for (int t = 0; t < count; t++, w += Rows)
            {
                float* row = xp + taps[t];
                // acc[r, v] = fma(w[r], x[v], acc[r, v])
                TV x0 = TS.Load(row), x1 = TS.Load(row + 1 * width);
                TV wr;
                wr = TS.Broadcast(w[0]);
                a00 = TS.MulAdd(wr, x0, a00); a01 = TS.MulAdd(wr, x1, a01);
                wr = TS.Broadcast(w[1]);
                a10 = TS.MulAdd(wr, x0, a10); a11 = TS.MulAdd(wr, x1, a11);
                wr = TS.Broadcast(w[2]);
                a20 = TS.MulAdd(wr, x0, a20); a21 = TS.MulAdd(wr, x1, a21);
                wr = TS.Broadcast(w[3]);
                a30 = TS.MulAdd(wr, x0, a30); a31 = TS.MulAdd(wr, x1, a31);
            }
            Store<TS, TV>(yp + 0 * ld, a00, a01);
            Store<TS, TV>(yp + 1 * ld, a10, a11);
            Store<TS, TV>(yp + 2 * ld, a20, a21);
            Store<TS, TV>(yp + 3 * ld, a30, a31);
        }
        else
        {
            TV a00 = TS.Zero, a10 = TS.Zero, a20 = TS.Zero, a30 = TS.Zero;
            for (int t = 0; t < count; t++, w += Rows)
            {
                float* row = xp + taps[t];
                // acc[r, v] = fma(w[r], x[v], acc[r, v])
                TV x0 = TS.Load(row);
                TV wr;
                wr = TS.Broadcast(w[0]);
                a00 = TS.MulAdd(wr, x0, a00);
                wr = TS.Broadcast(w[1]);
                a10 = TS.MulAdd(wr, x0, a10);
                wr = TS.Broadcast(w[2]);
                a20 = TS.MulAdd(wr, x0, a20);
                wr = TS.Broadcast(w[3]);
                a30 = TS.MulAdd(wr, x0, a30);
            }
            Store<TS, TV>(yp + 0 * ld, a00);
            Store<TS, TV>(yp + 1 * ld, a10);
            Store<TS, TV>(yp + 2 * ld, a20);
            Store<TS, TV>(yp + 3 * ld, a30);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TS, TV>(float* p, TV v0) where TS : ISimd<TV> where TV : struct => TS.Store(v0, p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TS, TV>(float* p, TV v0, TV v1) where TS : ISimd<TV> where TV : struct
    {
        TS.Store(v0, p);
        TS.Store(v1, p + TS.Width);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store<TS, TV>(float* p, TV v0, TV v1, TV v2, TV v3) where TS : ISimd<TV> where TV : struct
    {
        Store<TS, TV>(p, v0, v1);
        Store<TS, TV>(p + 2 * TS.Width, v2, v3);
    }
}
