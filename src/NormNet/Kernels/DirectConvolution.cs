using System.Runtime.CompilerServices;
using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>
/// Stride-1 2-D convolution computed directly, without im2col: forward and input gradient side by side (the input
/// gradient of a stride-1 convolution is itself a stride-1 convolution of the output gradient, padded by k - 1 - p,
/// with the kernel flipped and its channel axes swapped).
/// </summary>
/// <remarks>
/// <para>Each image is copied once into a zero-padded plane per channel, Hp x Wp = (H + 2p) x (W + 2p). Over that
/// copy, output position q = oh * Wp + ow reads input q + kh * Wp + kw for every (kh, kw): along q the window slides
/// contiguously, so a register tile of 4 output channels by several vectors of consecutive q is one FMA per
/// (channel, kh, kw) per vector, the weights broadcast from a panel packed 4 channels wide. The columns ow &gt;= OW of
/// that padded-width output are computed and dropped (2p / Wp of the work); the epilogue copies the valid ones to y
/// and adds the bias.</para>
/// <para>Every output element is one FMA chain over (c, kh, kw) in order, then + bias: the same bits for any thread
/// count, tile position or batch split. Images run in parallel, one per chunk; a convolution under ~100 us of work
/// runs on the calling thread. <see cref="LayerReference.Conv2dForward"/> is the plain reference.</para>
/// </remarks>
public static unsafe class DirectConvolution
{
    /// <summary>Output channels per register tile (the packed weight panel's width).</summary>
    internal const int Rows = 4;
    private const double InlineFlops = 2e7;

    private struct Args
    {
        public float* X, W, B, Y;
        public ConvGeometry G;
        public int Cout;
        public SimdWidth Width;
        public FusedActivation Activation;
    }

    /// <summary>Whether this geometry runs here: stride 1, a square kernel, and padding at most k - 1 (so that the input
    /// gradient is a convolution with non-negative padding too).</summary>
    /// <remarks><see cref="Preferred"/> says when it is also the faster path.</remarks>
    public static bool Supports(ConvGeometry g) => g.Stride == 1 && g.KH == g.KW && g.Padding <= g.KH - 1;

    /// <summary>Whether a layer should take this path: supported, and at least 32 patch rows (measured, cnn batch 64, 2 threads:
    /// the 32-channel 3x3 convolution ran at 147-162 GFLOP/s here against 99 for im2col plus products; the 1-channel one,
    /// 9 patch rows, at 24-28 against 40-51, its few FMAs per output not paying for the padded copies).</summary>
    public static bool Preferred(ConvGeometry g) => Supports(g) && g.PatchSize >= 32;

    // x: (N, C, H, W); w: (Cout, C, k, k); b: (Cout) or empty; y: (N, Cout, OH, OW), overwritten
    /// <summary>y[n, o, i, j] = f(sum over (c, kh, kw) of w[o, c, kh, kw] x[n, c, i - p + kh, j - p + kw] (0 outside) + b[o]),
    /// f the <paramref name="activation"/> (applied as each tile's valid columns are copied out: no pass of its own).</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ConvGeometry g, int cout, Span<float> y,
        FusedActivation activation = FusedActivation.None) =>
        Forward(x, w, b, g, cout, y, SimdDispatch.Widest, activation);

    /// <summary><see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, FusedActivation)"/>
    /// at a chosen vector width (tests run every width the machine supports).</summary>
    internal static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ConvGeometry g, int cout, Span<float> y, SimdWidth width,
        FusedActivation activation = FusedActivation.None)
    {
        Check(g, cout, x.Length, w.Length, y.Length);
        if (b.Length != 0 && b.Length != cout) throw new ArgumentException($"Direct convolution: bias has {b.Length} elements, expected {cout} or 0.");
        float[] packed = PackForward(w, g.C, cout, g.KH);
        fixed (float* px = x, pw = packed, pb = b, py = y)
        {
            var a = new Args { X = px, W = pw, B = b.IsEmpty ? null : pb, Y = py, G = g, Cout = cout, Width = width, Activation = activation };
            Run(&a);
        }
    }

    // dy: (N, Cout, OH, OW); w: (Cout, C, k, k); dx: (N, C, H, W), overwritten
    /// <summary>dx[n, c, i, j] = sum over (o, kh, kw) of w[o, c, kh, kw] dy[n, o, i + p - kh, j + p - kw] (0 outside): the
    /// forward over dy with padding k - 1 - p and the kernel w'[c, o, kh, kw] = w[o, c, k - 1 - kh, k - 1 - kw].</summary>
    public static void InputGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> w, ConvGeometry g, int cout, Span<float> dx) =>
        InputGradient(dy, w, g, cout, dx, SimdDispatch.Widest);

    /// <summary><see cref="InputGradient(ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float})"/> at a chosen vector width.</summary>
    internal static void InputGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> w, ConvGeometry g, int cout, Span<float> dx, SimdWidth width)
    {
        Check(g, cout, dx.Length, w.Length, dy.Length);
        var t = new ConvGeometry(g.N, cout, g.OutH, g.OutW, g.KH, g.KW, 1, g.KH - 1 - g.Padding);
        float[] packed = PackTransposed(w, g.C, cout, g.KH);
        fixed (float* pdy = dy, pw = packed, pdx = dx)
        {
            var a = new Args { X = pdy, W = pw, B = null, Y = pdx, G = t, Cout = g.C, Width = width };
            Run(&a);
        }
    }

    private static void Check(ConvGeometry g, int cout, int x, int w, int y)
    {
        if (!Supports(g)) throw new ArgumentException($"Direct convolution needs stride 1, a square kernel and padding below it, got {g}.");
        long xs = (long)g.N * g.C * g.H * g.W, ws = (long)cout * g.PatchSize, ys = (long)g.N * cout * g.OutPlane;
        if (x != xs || w != ws || y != ys)
            throw new ArgumentException($"Direct convolution {g} with {cout} outputs: sizes x {x} (expected {xs}), w {w} ({ws}), y {y} ({ys}).");
    }

    private static void Run(Args* a)
    {
        var g = a->G;
        if (g.N == 0) return;
        double flops = 2.0 * a->Cout * g.PatchSize * g.OutPlane * g.N;
        if (g.N == 1 || flops < InlineFlops)
            for (int n = 0; n < g.N; n++) Image(a, n);
        else Parallelism.For(g.N, a, &Image);
    }

    // w: (Cout, C, k, k) -> panels of Rows output channels: packed[((ob * C + c) * k + kh) * k + kw) * Rows + r] = w[ob * Rows + r, c, kh, kw] (0 past Cout)
    private static float[] PackForward(ReadOnlySpan<float> w, int c, int cout, int k)
    {
        int taps = c * k * k, blocks = (cout + Rows - 1) / Rows;
        float[] packed = Scratch(ref t_weights, blocks * Rows * taps);
        for (int ob = 0; ob < blocks; ob++)
            for (int r = 0; r < Rows; r++)
            {
                int o = ob * Rows + r;
                for (int t = 0; t < taps; t++) packed[(ob * taps + t) * Rows + r] = o < cout ? w[o * taps + t] : 0f;
            }
        return packed;
    }

    // w: (Cout, C, k, k) -> the panels of w'[c, o, kh, kw] = w[o, c, k - 1 - kh, k - 1 - kw] (C outputs, Cout inputs)
    private static float[] PackTransposed(ReadOnlySpan<float> w, int c, int cout, int k)
    {
        int kk = k * k, taps = cout * kk, blocks = (c + Rows - 1) / Rows;
        float[] packed = Scratch(ref t_weights, blocks * Rows * taps);
        for (int ob = 0; ob < blocks; ob++)
            for (int r = 0; r < Rows; r++)
            {
                int ci = ob * Rows + r;
                for (int o = 0; o < cout; o++)
                    for (int t = 0; t < kk; t++)
                        packed[(ob * taps + o * kk + t) * Rows + r] = ci < c ? w[(o * c + ci) * kk + kk - 1 - t] : 0f;
            }
        return packed;
    }

    private static void Image(void* state, int n) => SimdDispatch.Run(((Args*)state)->Width, new ImageOp((Args*)state, n));

    private readonly struct ImageOp(Args* a, int n) : ISimdOperation
    {
        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct => Image<TS, TV>(a, n);
    }

    /// <summary>Pads image n, runs every tile over the padded-width output, and copies the valid columns (+ bias) to y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image<TS, TV>(Args* a, int n) where TS : ISimd<TV> where TV : struct
    {
        var g = a->G;
        int p = g.Padding, k = g.KH, hp = g.H + 2 * p, wp = g.W + 2 * p, plane = hp * wp;
        int oh = g.OutH, ow = g.OutW, cout = a->Cout, blocks = (cout + Rows - 1) / Rows;
        // full tiles of TileVectors vectors, then a two-vector tile and one-vector tiles up to qr (less than a vector past q)
        int vectors = TileVectors<TS, TV>(), span = vectors * TS.Width, q = oh * wp, qr = (q + TS.Width - 1) / TS.Width * TS.Width;
        // the last tile reads up to (C - 1) * plane + (k - 1) * (wp + 1) + qr - 1
        int padded = (g.C - 1) * plane + (k - 1) * (wp + 1) + qr;
        float[] xpBuffer = Scratch(ref t_input, Math.Max(padded, g.C * plane));
        float[] ypBuffer = Scratch(ref t_output, blocks * Rows * qr);
        fixed (float* xp = xpBuffer, yp = ypBuffer)
        {
            Pad(a->X + (long)n * g.C * g.H * g.W, g, xp, Math.Max(padded, g.C * plane));
            int taps = g.C * k * k;
            for (int q0 = 0; q0 < qr;)
            {
                int v = qr - q0 >= span ? vectors : qr - q0 >= 2 * TS.Width ? 2 : 1;
                for (int ob = 0; ob < blocks; ob++)
                    Tile<TS, TV>(v, xp + q0, plane, wp, g.C, k, a->W + (long)ob * taps * Rows, yp + (long)ob * Rows * qr + q0, qr);
                q0 += v * TS.Width;
            }
            float* y = a->Y + (long)n * cout * g.OutPlane;
            if (a->Activation == FusedActivation.Relu) Epilogue<TS, TV, ReluActivation>(yp, qr, wp, a->B, cout, oh, ow, y);
            else Epilogue<TS, TV, NoActivation>(yp, qr, wp, a->B, cout, oh, ow, y);
        }
    }

    // yp: (Cout, qr) padded-width output rows (OH rows of wp each, the first OW valid); b: (Cout) or null -> y: (Cout, OH, OW)
    /// <summary>y[o, i, j] = f(yp[o, i * wp + j] + b[o]) (no addition without a bias, so the bits are the product's).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Epilogue<TS, TV, TA>(float* yp, int qr, int wp, float* b, int cout, int oh, int ow, float* y)
        where TS : ISimd<TV> where TV : struct where TA : IFusedActivation
    {
        for (int o = 0; o < cout; o++)
            for (int i = 0; i < oh; i++)
            {
                float* src = yp + (long)o * qr + i * wp, dst = y + ((long)o * oh + i) * ow;
                if (b == null) StoreRow<TS, TV, TA>(src, dst, ow, 0f, false);
                else StoreRow<TS, TV, TA>(src, dst, ow, b[o], true);
            }
    }

    // dst[j] = f(src[j] + bias) (f(src[j]) without a bias), j < count
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TS, TV, TA>(float* src, float* dst, int count, float bias, bool hasBias)
        where TS : ISimd<TV> where TV : struct where TA : IFusedActivation
    {
        TV bv = TS.Broadcast(bias);
        int j = 0;
        if (hasBias)
        {
            for (; j + TS.Width <= count; j += TS.Width) TS.Store(TA.Apply<TS, TV>(TS.Add(TS.Load(src + j), bv)), dst + j);
            for (; j < count; j++) dst[j] = TA.Apply<SimdScalar, float>(src[j] + bias);
        }
        else
        {
            for (; j + TS.Width <= count; j += TS.Width) TS.Store(TA.Apply<TS, TV>(TS.Load(src + j)), dst + j);
            for (; j < count; j++) dst[j] = TA.Apply<SimdScalar, float>(src[j]);
        }
    }

    /// <summary>Vectors of consecutive output positions per tile: 4 where 32 vector registers hold the 16 accumulators,
    /// else 2 (8 accumulators, 4 broadcasts and a load fit 16).</summary>
    private static int TileVectors<TS, TV>() where TS : ISimd<TV> where TV : struct => TS.Width == 16 ? 4 : 2;

    // x: (C, H, W) -> xp: (C, H + 2p, W + 2p), zeros around, and zeros after it up to length
    private static void Pad(float* x, ConvGeometry g, float* xp, int length)
    {
        int p = g.Padding, wp = g.W + 2 * p, plane = (g.H + 2 * p) * wp;
        new Span<float>(xp, length).Clear();
        for (int c = 0; c < g.C; c++)
            for (int i = 0; i < g.H; i++)
                new ReadOnlySpan<float>(x + ((long)c * g.H + i) * g.W, g.W).CopyTo(new Span<float>(xp + c * plane + (i + p) * wp + p, g.W));
    }

    // xp: padded input at the tile's first position; w: the panel (C*k*k x Rows); yp: Rows rows of the output, ld apart
    /// <summary>acc[r, v] = sum over (c, kh, kw) of w[c, kh, kw, r] * xp[c*plane + kh*wp + kw + v*Width ..] (one FMA chain each),
    /// for <paramref name="vectors"/> vectors: 4 (16 accumulators, with 32 vector registers), 2 (8, with 16; or a tail) or 1 (the last tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TS, TV>(int vectors, float* xp, int plane, int wp, int channels, int k, float* w, float* yp, int ld)
        where TS : ISimd<TV> where TV : struct
    {
        int width = TS.Width;
        if (vectors == 4)
        {
            TV a00 = TS.Zero, a01 = TS.Zero, a02 = TS.Zero, a03 = TS.Zero, a10 = TS.Zero, a11 = TS.Zero, a12 = TS.Zero, a13 = TS.Zero, a20 = TS.Zero, a21 = TS.Zero, a22 = TS.Zero, a23 = TS.Zero, a30 = TS.Zero, a31 = TS.Zero, a32 = TS.Zero, a33 = TS.Zero;
            for (int c = 0; c < channels; c++)
                for (int kh = 0; kh < k; kh++)
                {
                    float* row = xp + c * plane + kh * wp;
                    for (int kw = 0; kw < k; kw++, w += Rows)
                    {
                        // acc[r, v] = fma(w[r], x[v], acc[r, v])
                        TV x0 = TS.Load(row + kw), x1 = TS.Load(row + kw + 1 * width), x2 = TS.Load(row + kw + 2 * width), x3 = TS.Load(row + kw + 3 * width);
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
                }
            Store<TS, TV>(yp + 0 * ld, a00, a01, a02, a03);
            Store<TS, TV>(yp + 1 * ld, a10, a11, a12, a13);
            Store<TS, TV>(yp + 2 * ld, a20, a21, a22, a23);
            Store<TS, TV>(yp + 3 * ld, a30, a31, a32, a33);
        }
        else if (vectors == 2)
        {
            TV a00 = TS.Zero, a01 = TS.Zero, a10 = TS.Zero, a11 = TS.Zero, a20 = TS.Zero, a21 = TS.Zero, a30 = TS.Zero, a31 = TS.Zero;
            for (int c = 0; c < channels; c++)
                for (int kh = 0; kh < k; kh++)
                {
                    float* row = xp + c * plane + kh * wp;
                    for (int kw = 0; kw < k; kw++, w += Rows)
                    {
                        // acc[r, v] = fma(w[r], x[v], acc[r, v])
                        TV x0 = TS.Load(row + kw), x1 = TS.Load(row + kw + 1 * width);
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
                }
            Store<TS, TV>(yp + 0 * ld, a00, a01);
            Store<TS, TV>(yp + 1 * ld, a10, a11);
            Store<TS, TV>(yp + 2 * ld, a20, a21);
            Store<TS, TV>(yp + 3 * ld, a30, a31);
        }
        else
        {
            TV a00 = TS.Zero, a10 = TS.Zero, a20 = TS.Zero, a30 = TS.Zero;
            for (int c = 0; c < channels; c++)
                for (int kh = 0; kh < k; kh++)
                {
                    float* row = xp + c * plane + kh * wp;
                    for (int kw = 0; kw < k; kw++, w += Rows)
                    {
                        // acc[r, v] = fma(w[r], x[v], acc[r, v])
                        TV x0 = TS.Load(row + kw);
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

    [ThreadStatic] private static float[]? t_weights, t_input, t_output;

    private static float[] Scratch(ref float[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<float>(length, pinned: true);
        return buffer;
    }
}
