using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NormNet.Threading;

namespace NormNet.Kernels;

public static unsafe partial class DirectConvolution
{
    /// <summary>Output channels per channel tile: two 16-wide vectors.</summary>
    internal const int ChannelBlock = 32;

    /// <summary>Output rows at most this wide run in channel tiles (when their channels come in blocks of 32 and vectors are 16
    /// wide): there the padded-width tiles waste 2/9 (7x7) to 2/16 (14x14) of their work on dropped columns, and their 4
    /// broadcast weights per 4 loads of x gave way to 2 weight vectors per 14 broadcasts of x. Measured, batch 64, 1 thread,
    /// alternating builds, whole layers: 64->64 on 7x7 122 -> 172 GFLOP/s, 32->32 and 32->64 on 14x14 121-129 -> 177-180,
    /// the stride-2 32->64 from 14x14 and 16->32 from 28x28 87 -> 126-128 (forward and stride-1 input gradient alike). On
    /// 28-wide rows of 16 channels the tile loop alone measured slower (159 -> 126: one weight vector per 14 broadcasts).</summary>
    internal const int ChannelTileMaxWidth = 16;

    /// <summary>Whether the images of this convolution run in channel tiles (<see cref="ChannelTile{TS, TV, TP}"/>) at
    /// <paramref name="width"/>: 16-wide vectors (32 registers hold the 28 accumulators), output channels a multiple of
    /// <see cref="ChannelBlock"/>, output rows at most <see cref="ChannelTileMaxWidth"/> wide. The bits are those of the
    /// padded-width tiles: every output is the same FMA chain over the taps.</summary>
    internal static bool UsesChannelTiles(SimdWidth width, ConvGeometry g, int cout) => ChannelTilesFit(width, cout, g.OutW);

    /// <summary>Whether a convolution producing <paramref name="channels"/> channels in rows <paramref name="rowWidth"/> wide
    /// can run in channel tiles at <paramref name="width"/> (a forward's output, or a strided input gradient's phases).</summary>
    private static bool ChannelTilesFit(SimdWidth width, int channels, int rowWidth) =>
        width == SimdWidth.W512 && Simd512.IsSupported && channels % ChannelBlock == 0 && rowWidth <= ChannelTileMaxWidth;

    /// <summary>Whether this call runs in channel tiles: where <see cref="UsesChannelTiles"/> says they apply, unless one image
    /// is to be split among more workers than it has 32-channel blocks (batch 1 on 2 threads with 32 output channels), which
    /// the 4-channel panels of the padded-width tiles allow. Either way the bits are the same.</summary>
    private static bool ChannelTilesFor(SimdWidth width, ConvGeometry g, int cout)
    {
        if (!UsesChannelTiles(width, g, cout)) return false;
        int threads = ComputeSettings.Current.MaxThreads;
        return g.N >= threads || 2.0 * cout * g.PatchSize * g.OutPlane * g.N < SplitFlops || cout / ChannelBlock >= threads;
    }

    /// <summary>How many output positions a channel tile covers: 14, 7, 4, 2 or 1 consecutive ones of a row, or two rows of 7.
    /// Positions from <see cref="Split"/> on are those of the second row.</summary>
    private interface IPositions
    {
        static abstract int Count { get; }
        static abstract int Split { get; }
    }

    private readonly struct P14 : IPositions { public static int Count => 14; public static int Split => 14; }
    private readonly struct P7 : IPositions { public static int Count => 7; public static int Split => 7; }
    private readonly struct P4 : IPositions { public static int Count => 4; public static int Split => 4; }
    private readonly struct P2 : IPositions { public static int Count => 2; public static int Split => 2; }
    private readonly struct P1 : IPositions { public static int Count => 1; public static int Split => 1; }
    /// <summary>Two output rows of 7 (a 7x7 output: the resnet's last stage), where a run of 7 kept only 14 accumulators and
    /// read all 32 channels' weights for 7 positions. Measured, batch 64, 1 thread, in one process (5 alternations, min-max):
    /// the stride-2 32->64 from 14x14 904-984 -> 807-840 us; 64->64 on 7x7 1222-1511 -> 1244-1335 (noisy, no worse).</summary>
    private readonly struct P7x2 : IPositions { public static int Count => 14; public static int Split => 7; }

    /// <summary>Runs image n's channel tiles (after <see cref="Gather"/>), without pooling: every output row in runs of
    /// consecutive positions (14, 7, 4, 2, 1), each run against every channel block in [firstBlock, endBlock), each run
    /// stored straight to y with the bias, the addend and the activation (no epilogue pass, <see cref="OutputColumns{TA}"/>).
    /// With pooling: <see cref="PooledChannelImage{TS, TV, TA}"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ChannelImage<TS, TV>(Args* a, int n, float* xp, int firstBlock, int endBlock)
        where TS : ISimd<TV> where TV : struct
    {
        if (2 * TS.Width != ChannelBlock) throw new InvalidOperationException($"Channel tiles need {ChannelBlock / 2}-wide vectors, not {TS.Width}.");
        var g = a->G;
        int ow = g.OutW, taps = g.PatchSize, cols = new PhaseLayout(g).Cols, plane = g.OutPlane;
        long image = (long)n * a->Cout * plane;
        float* tile = stackalloc float[16 * ChannelBlock];
        for (int i = 0; i < g.OutH;)
        {
            // rows of 7 go in pairs, one run of 14 (their outputs are consecutive in y)
            int rows = ow == 7 && i + 1 < g.OutH ? 2 : 1;
            for (int j0 = 0; j0 < ow;)
            {
                int count = rows == 2 ? 14 : RunLength(ow - j0);
                float* x = xp + i * cols + j0;
                for (int ob = firstBlock; ob < endBlock; ob++)
                {
                    float* w = a->W + (long)ob * taps * ChannelBlock;
                    if (rows == 2) ChannelTile<TS, TV, P7x2>(x, x + cols, a->Taps, taps, w, tile);
                    else RunChannelTile<TS, TV>(count, x, a->Taps, taps, w, tile);
                    long at = image + (long)ob * ChannelBlock * plane + i * ow + j0;
                    float* bias = a->B == null ? null : a->B + ob * ChannelBlock, addend = a->Addend == null ? null : a->Addend + at;
                    if (a->Activation == FusedActivation.Relu) StoreOutput<ReluActivation>(tile, count, a->Y + at, plane, bias, addend);
                    else StoreOutput<NoActivation>(tile, count, a->Y + at, plane, bias, addend);
                }
                j0 += rows == 2 ? ow : count;
            }
            i += rows;
        }
    }

    /// <summary>The positions of the next run of a row with <paramref name="left"/> positions left: 14, 7, 4, 2 or 1.</summary>
    private static int RunLength(int left) => left >= 14 ? 14 : left >= 7 ? 7 : left >= 4 ? 4 : left >= 2 ? 2 : 1;

    /// <summary><see cref="ChannelTile{TS, TV, TP}"/> for a run of <paramref name="count"/> (a <see cref="RunLength"/>) positions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RunChannelTile<TS, TV>(int count, float* x, int* taps, int tapCount, float* w, float* tile) where TS : ISimd<TV> where TV : struct
    {
        switch (count)
        {
            case 14: ChannelTile<TS, TV, P14>(x, x, taps, tapCount, w, tile); break;
            case 7: ChannelTile<TS, TV, P7>(x, x, taps, tapCount, w, tile); break;
            case 4: ChannelTile<TS, TV, P4>(x, x, taps, tapCount, w, tile); break;
            case 2: ChannelTile<TS, TV, P2>(x, x, taps, tapCount, w, tile); break;
            default: ChannelTile<TS, TV, P1>(x, x, taps, tapCount, w, tile); break;
        }
    }

    // x: the phase planes at the run's first position; x2: at the second row's first position (positions Split .. P - 1);
    // taps: (count) offsets; w: the panel (count x 32); tile: P x 32
    /// <summary>tile[j, r] = sum over taps t = (c, kh, kw) of x[taps[t] + j] * w[t, r] (one FMA chain each, in tap order: the
    /// bits of <see cref="Tile{TS, TV}"/>), for the P = <typeparamref name="TP"/> positions j of a row (or two, the second's
    /// read at x2) and 32 output channels r: P x 2 accumulators, per tap P broadcasts of x and 2 loads of w.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ChannelTile<TS, TV, TP>(float* x, float* x2, int* taps, int count, float* w, float* tile)
        where TS : ISimd<TV> where TV : struct where TP : IPositions
    {
        int p = TP.Count, width = TS.Width;
        TV z = TS.Zero;
        TV a0 = z, b0 = z, a1 = z, b1 = z, a2 = z, b2 = z, a3 = z, b3 = z, a4 = z, b4 = z, a5 = z, b5 = z, a6 = z, b6 = z;
        TV a7 = z, b7 = z, a8 = z, b8 = z, a9 = z, b9 = z, a10 = z, b10 = z, a11 = z, b11 = z, a12 = z, b12 = z, a13 = z, b13 = z;
        // position j at row[j]: the first row's, or from Split on the second's (row - Split + (x2 - x))
        nint second = (nint)(x2 - x) - TP.Split;
        for (int t = 0; t < count; t++, w += 2 * width)
        {
            float* row = x + taps[t];
            TV w0 = TS.Load(w), w1 = TS.Load(w + width), s;
            // acc[j, v] = fma(x[j], w[v], acc[j, v])
            s = TS.Broadcast(row[0]); a0 = TS.MulAdd(s, w0, a0); b0 = TS.MulAdd(s, w1, b0);
            if (p > 1) { s = TS.Broadcast(At<TP>(row, 1, second)); a1 = TS.MulAdd(s, w0, a1); b1 = TS.MulAdd(s, w1, b1); }
            if (p > 2) { s = TS.Broadcast(At<TP>(row, 2, second)); a2 = TS.MulAdd(s, w0, a2); b2 = TS.MulAdd(s, w1, b2); }
            if (p > 3) { s = TS.Broadcast(At<TP>(row, 3, second)); a3 = TS.MulAdd(s, w0, a3); b3 = TS.MulAdd(s, w1, b3); }
            if (p > 4) { s = TS.Broadcast(At<TP>(row, 4, second)); a4 = TS.MulAdd(s, w0, a4); b4 = TS.MulAdd(s, w1, b4); }
            if (p > 5) { s = TS.Broadcast(At<TP>(row, 5, second)); a5 = TS.MulAdd(s, w0, a5); b5 = TS.MulAdd(s, w1, b5); }
            if (p > 6) { s = TS.Broadcast(At<TP>(row, 6, second)); a6 = TS.MulAdd(s, w0, a6); b6 = TS.MulAdd(s, w1, b6); }
            if (p > 7) { s = TS.Broadcast(At<TP>(row, 7, second)); a7 = TS.MulAdd(s, w0, a7); b7 = TS.MulAdd(s, w1, b7); }
            if (p > 8) { s = TS.Broadcast(At<TP>(row, 8, second)); a8 = TS.MulAdd(s, w0, a8); b8 = TS.MulAdd(s, w1, b8); }
            if (p > 9) { s = TS.Broadcast(At<TP>(row, 9, second)); a9 = TS.MulAdd(s, w0, a9); b9 = TS.MulAdd(s, w1, b9); }
            if (p > 10) { s = TS.Broadcast(At<TP>(row, 10, second)); a10 = TS.MulAdd(s, w0, a10); b10 = TS.MulAdd(s, w1, b10); }
            if (p > 11) { s = TS.Broadcast(At<TP>(row, 11, second)); a11 = TS.MulAdd(s, w0, a11); b11 = TS.MulAdd(s, w1, b11); }
            if (p > 12) { s = TS.Broadcast(At<TP>(row, 12, second)); a12 = TS.MulAdd(s, w0, a12); b12 = TS.MulAdd(s, w1, b12); }
            if (p > 13) { s = TS.Broadcast(At<TP>(row, 13, second)); a13 = TS.MulAdd(s, w0, a13); b13 = TS.MulAdd(s, w1, b13); }
        }
        int step = 2 * width;
        Store<TS, TV>(tile, a0, b0);
        if (p > 1) Store<TS, TV>(tile + step, a1, b1);
        if (p > 2) Store<TS, TV>(tile + 2 * step, a2, b2);
        if (p > 3) Store<TS, TV>(tile + 3 * step, a3, b3);
        if (p > 4) Store<TS, TV>(tile + 4 * step, a4, b4);
        if (p > 5) Store<TS, TV>(tile + 5 * step, a5, b5);
        if (p > 6) Store<TS, TV>(tile + 6 * step, a6, b6);
        if (p > 7) Store<TS, TV>(tile + 7 * step, a7, b7);
        if (p > 8) Store<TS, TV>(tile + 8 * step, a8, b8);
        if (p > 9) Store<TS, TV>(tile + 9 * step, a9, b9);
        if (p > 10) Store<TS, TV>(tile + 10 * step, a10, b10);
        if (p > 11) Store<TS, TV>(tile + 11 * step, a11, b11);
        if (p > 12) Store<TS, TV>(tile + 12 * step, a12, b12);
        if (p > 13) Store<TS, TV>(tile + 13 * step, a13, b13);
    }

    // x at position j of a run: row[j], or row[second + j] from TP.Split on
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float At<TP>(float* row, int j, nint second) where TP : IPositions => j < TP.Split ? row[j] : row[second + j];

    // tile: (16, 32), rows past the run unused -> y[r * ld + j] = tile[j, r] for r < 32, j < 16 (the run's positions, then values the caller overwrites)
    /// <summary>Stores a channel tile into the per-channel output rows of yp: two 16 x 16 transposes in registers with AVX-512, each
    /// output channel's run stored as one vector whose last 16 - count values run past the run. They land where the caller
    /// stores later (the rest of the row, the next row: runs go left to right, rows top to bottom) or in the slack the caller
    /// leaves after each channel's rows (the strided input gradient's <c>PhaseStride</c>). Measured (batch 64, 1 thread, the layers above): 139-164 GFLOP/s with a scalar
    /// transpose, 168-177 with no store at all (wrong results, a probe), 169-180 with this one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTransposed(float* tile, float* y, int ld)
    {
        if (!Avx512F.IsSupported) throw new PlatformNotSupportedException("Channel tiles store with AVX-512.");
        Transpose16x16(tile, ChannelBlock, new RawColumns(y, ld));
        Transpose16x16(tile + 16, ChannelBlock, new RawColumns(y + 16 * ld, ld));
    }

    // tile: (16, 32), rows count .. 15 unused; bias: (32) or null; addend: as y or null -> y[r * ld + j] = f(tile[j, r] + bias[r] + addend[r * ld + j]), j < count
    /// <summary>Stores a channel tile into the output, with the epilogue's arithmetic in its order (bias, addend, activation:
    /// the same bits), each channel's run one masked store (nothing past the run is written).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreOutput<TA>(float* tile, int count, float* y, nint ld, float* bias, float* addend) where TA : IFusedActivation
    {
        if (!Avx512F.IsSupported) throw new PlatformNotSupportedException("Channel tiles store with AVX-512.");
        var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
        Transpose16x16(tile, ChannelBlock, new OutputColumns<TA>(y, ld, bias, addend, mask));
        Transpose16x16(tile + 16, ChannelBlock, new OutputColumns<TA>(y + 16 * ld, ld, bias == null ? null : bias + 16, addend == null ? null : addend + 16 * ld, mask));
    }

    /// <summary>Where a transposed column (one output channel's run) goes.</summary>
    private interface IColumnSink
    {
        void Column(int c, Vector512<float> v);
    }

    /// <summary>Column c to dst + c * ld, a whole vector.</summary>
    private readonly struct RawColumns(float* dst, nint ld) : IColumnSink
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Column(int c, Vector512<float> v) => v.Store(dst + c * ld);
    }

    /// <summary>Column c to y + c * ld under the mask, as f(v + bias[c] + addend): the epilogue's <see cref="StoreRow{TS, TV, TA, TR}"/> arithmetic.</summary>
    private readonly struct OutputColumns<TA>(float* y, nint ld, float* bias, float* addend, Vector512<float> mask) : IColumnSink where TA : IFusedActivation
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Column(int c, Vector512<float> v)
        {
            if (bias != null) v = Simd512.Add(v, Vector512.Create(bias[c]));
            if (addend != null) v = Simd512.Add(v, Avx512F.MaskLoad(addend + c * ld, mask, Vector512<float>.Zero));
            Avx512F.MaskStore(y + c * ld, mask, TA.Apply<Simd512, Vector512<float>>(v));
        }
    }

    // src: 16 rows of 16 floats, srcStride apart -> sink.Column(c, (src[j * srcStride + c] for j < 16)) for c < 16
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16x16<TSink>(float* src, nint srcStride, TSink sink) where TSink : IColumnSink
    {
        // within each 128-bit lane L: pairs of rows interleaved, t = (a[4L], b[4L], a[4L+1], b[4L+1]) and (a[4L+2], b[4L+2], ..)
        // then fours: u[g, k] holds rows 4g .. 4g+3 of column 4L + k in lane L
        Vector512<float> u00, u01, u02, u03, u10, u11, u12, u13, u20, u21, u22, u23, u30, u31, u32, u33;
        Fours(src, srcStride, out u00, out u01, out u02, out u03);
        Fours(src + 4 * srcStride, srcStride, out u10, out u11, out u12, out u13);
        Fours(src + 8 * srcStride, srcStride, out u20, out u21, out u22, out u23);
        Fours(src + 12 * srcStride, srcStride, out u30, out u31, out u32, out u33);
        // column 4L + k = lane L of u[0, k], u[1, k], u[2, k], u[3, k]
        Columns(u00, u10, u20, u30, 0, sink);
        Columns(u01, u11, u21, u31, 1, sink);
        Columns(u02, u12, u22, u32, 2, sink);
        Columns(u03, u13, u23, u33, 3, sink);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fours(float* src, nint stride, out Vector512<float> k0, out Vector512<float> k1, out Vector512<float> k2, out Vector512<float> k3)
    {
        Vector512<float> r0 = Vector512.Load(src), r1 = Vector512.Load(src + stride), r2 = Vector512.Load(src + 2 * stride), r3 = Vector512.Load(src + 3 * stride);
        Vector512<float> t0 = Avx512F.UnpackLow(r0, r1), t1 = Avx512F.UnpackHigh(r0, r1), t2 = Avx512F.UnpackLow(r2, r3), t3 = Avx512F.UnpackHigh(r2, r3);
        k0 = Avx512F.Shuffle(t0, t2, 0x44);
        k1 = Avx512F.Shuffle(t0, t2, 0xEE);
        k2 = Avx512F.Shuffle(t1, t3, 0x44);
        k3 = Avx512F.Shuffle(t1, t3, 0xEE);
    }

    // g0 .. g3: lane L holds 4 rows of column 4L + k -> columns k, 4 + k, 8 + k, 12 + k (their 16 rows) to the sink
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns<TSink>(Vector512<float> g0, Vector512<float> g1, Vector512<float> g2, Vector512<float> g3, int k, TSink sink)
        where TSink : IColumnSink
    {
        // a = (g0.L0, g0.L2, g1.L0, g1.L2), b = (g0.L1, g0.L3, g1.L1, g1.L3), and c, d from g2, g3
        Vector512<float> a = Avx512F.Shuffle4x128(g0, g1, 0x88), b = Avx512F.Shuffle4x128(g0, g1, 0xDD);
        Vector512<float> c = Avx512F.Shuffle4x128(g2, g3, 0x88), d = Avx512F.Shuffle4x128(g2, g3, 0xDD);
        sink.Column(k, Avx512F.Shuffle4x128(a, c, 0x88));      // lane 0
        sink.Column(4 + k, Avx512F.Shuffle4x128(b, d, 0x88));  // lane 1
        sink.Column(8 + k, Avx512F.Shuffle4x128(a, c, 0xDD));  // lane 2
        sink.Column(12 + k, Avx512F.Shuffle4x128(b, d, 0xDD)); // lane 3
    }
}
