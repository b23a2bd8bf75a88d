using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormNet.Kernels;

public static unsafe partial class DirectConvolution
{
    /// <summary>Positions of a row-pair tile: four 16-wide vectors, from the first position of an even output row.</summary>
    private const int PairSpan = 64;

    /// <summary>Whether a pooled forward at <paramref name="width"/> pools in registers (<see cref="PooledRowPairs{TS, TV, TA}"/>)
    /// rather than through the per-channel planes of the pooled epilogue: where its padded-width tiles run (not channel
    /// tiles) with 16-wide vectors and its phase-plane rows are 17 to 32 positions wide, so that one tile of four vectors
    /// holds two whole output rows (the cnn's first convolution: 28x28, rows of 30).</summary>
    internal static bool UsesPooledRowPairs(SimdWidth width, ConvGeometry g, int cout) =>
        !UsesChannelTiles(width, g, cout) && RowPairsFit(width == SimdWidth.W512 && Simd512.IsSupported ? 16 : 0, new PhaseLayout(g).Cols);

    /// <summary>Whether two output rows of <paramref name="cols"/> positions fit one row-pair tile of <paramref name="vectorWidth"/>-wide vectors.</summary>
    private static bool RowPairsFit(int vectorWidth, int cols) => vectorWidth == 16 && Avx512F.IsSupported && cols > 16 && cols <= 32;

    // xp: image n's phase planes (reads up to (OH / 2 * 2 - 2) * Cols + PairSpan + the largest tap); y: image n's (Cout, OH / 2, OW / 2)
    /// <summary>The pooled forward of one image without the full-size output: for each pair of output rows (2i, 2i + 1) and each
    /// 4-channel block, a padded-width tile of four vectors from position 2i x Cols (<see cref="Tile{TS, TV}"/>: the same FMA
    /// chains, so the same bits) holds both rows; each channel's pair is then pooled in registers, and the pooled row biased,
    /// activated (<see cref="PoolPair{TA}"/>) and stored. Replaces the pooled epilogue's three passes over each channel's
    /// plane (store, bias and activation in place, pooling) with one pass over 1 KB that stays in L1. Measured, the cnn's
    /// first convolution (1 -> 32 channels, 28x28, batch 64, ReLU and pooling fused), 1 thread: see BENCHMARKS.md.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PooledRowPairs<TS, TV, TA>(Args* a, float* xp, float* y, int firstBlock, int endBlock)
        where TS : ISimd<TV> where TV : struct where TA : IFusedActivation
    {
        var g = a->G;
        int cols = new PhaseLayout(g).Cols, taps = g.PatchSize, pw = g.OutW / 2, plane = g.OutH / 2 * pw;
        var pair = new PairLayout(cols, g.OutW);
        // 64-byte aligned: each of the tile's vector stores then forwards whole to the load that reads it back
        float* buffer = stackalloc float[Rows * PairSpan + 16], tile = (float*)(((nint)buffer + 63) & ~(nint)63);
        for (int i = 0; i < g.OutH / 2; i++)
            for (int ob = firstBlock; ob < endBlock; ob++)
            {
                Tile<TS, TV>(4, xp + 2 * i * cols, a->Taps, taps, a->W + (long)ob * taps * Rows, tile, PairSpan);
                for (int r = 0, o = ob * Rows; r < Rows && o < a->Cout; r++, o++)
                    PoolPair<TA>(tile + r * PairSpan, a->B == null ? null : a->B + o, pair, y + (long)o * plane + i * pw);
            }
    }

    /// <summary>The pooled forward of one image in channel tiles (<see cref="UsesChannelTiles"/>), without the full-size
    /// output: for each pair of output rows (2i, 2i + 1), each run of an even number of their positions (14, 4 or 2, so that
    /// no window straddles two runs) and each 32-channel block, the two rows' tiles (<see cref="ChannelTile{TS, TV, TP}"/>)
    /// are pooled position pair by position pair on vectors of 16 channels (<see cref="PoolTiles{TA}"/>: no shuffles), and
    /// the pooled run transposed into y's channel rows. Replaces the store of every output into per-channel planes and the
    /// pooled epilogue's passes over them. Measured, the cnn's second convolution (32 -> 64 channels, 14x14, batch 64, ReLU
    /// and pooling fused), 1 thread: see BENCHMARKS.md.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PooledChannelImage<TS, TV, TA>(Args* a, float* xp, float* y, int firstBlock, int endBlock)
        where TS : ISimd<TV> where TV : struct where TA : IFusedActivation
    {
        if (2 * TS.Width != ChannelBlock) throw new InvalidOperationException($"Channel tiles need {ChannelBlock / 2}-wide vectors, not {TS.Width}.");
        var g = a->G;
        int pw = g.OutW / 2, taps = g.PatchSize, cols = new PhaseLayout(g).Cols, plane = g.OutH / 2 * pw;
        float* top = stackalloc float[3 * 16 * ChannelBlock], bottom = top + 16 * ChannelBlock, pooled = bottom + 16 * ChannelBlock;
        for (int i = 0; i < g.OutH / 2; i++)
            for (int j0 = 0; j0 < 2 * pw;)
            {
                int count = 2 * pw - j0 >= 14 ? 14 : 2 * pw - j0 >= 4 ? 4 : 2;
                float* x = xp + 2 * i * cols + j0;
                for (int ob = firstBlock; ob < endBlock; ob++)
                {
                    float* w = a->W + (long)ob * taps * ChannelBlock;
                    RunChannelTile<TS, TV>(count, x, a->Taps, taps, w, top);
                    RunChannelTile<TS, TV>(count, x + cols, a->Taps, taps, w, bottom);
                    PoolTiles<TA>(top, bottom, count / 2, a->B == null ? null : a->B + ob * ChannelBlock, pooled);
                    StoreOutput<NoActivation>(pooled, count / 2, y + (long)ob * ChannelBlock * plane + i * pw + j0 / 2, plane, null, null);
                }
                j0 += count;
            }
    }

    // top, bottom: (16, 32) channel tiles of output rows 2i and 2i + 1 (position j, channel r at j * 32 + r); bias: (32) or null -> pooled: (16, 32), windows rows
    /// <summary>pooled[k, r] = window k's result over f(t + b[r]) for its corners t = top[2k, r], top[2k + 1, r], bottom[2k, r],
    /// bottom[2k + 1, r] in that order: the epilogue's arithmetic per element, then <see cref="Pooling.MaxPlane2x2"/>'s decision
    /// (the first NaN wins, else the first of the largest), so the bits of the convolution, then the activation, then the pooling.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PoolTiles<TA>(float* top, float* bottom, int windows, float* bias, float* pooled) where TA : IFusedActivation
    {
        for (int h = 0; h < ChannelBlock; h += 16)
        {
            var b = bias == null ? Vector512<float>.Zero : Vector512.Load(bias + h);
            for (int k = 0; k < windows; k++)
            {
                int at = 2 * k * ChannelBlock + h;
                var best = Activated<TA>(top + at, bias != null, b);
                best = Window(best, Activated<TA>(top + at + ChannelBlock, bias != null, b));
                best = Window(best, Activated<TA>(bottom + at, bias != null, b));
                best = Window(best, Activated<TA>(bottom + at + ChannelBlock, bias != null, b));
                best.Store(pooled + k * ChannelBlock + h);
            }
        }
    }

    /// <summary>f(t + b) (f(t) without a bias), as the epilogue computes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Activated<TA>(float* t, bool hasBias, Vector512<float> b) where TA : IFusedActivation
    {
        var v = Vector512.Load(t);
        return TA.Apply<Simd512, Vector512<float>>(hasBias ? Simd512.Add(v, b) : v);
    }

    /// <summary>One step of a window's decision, per lane: v replaces best when best is not NaN and v is greater or is NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Window(Vector512<float> best, Vector512<float> v)
    {
        var take = (Vector512.GreaterThan(v, best) | ~Vector512.Equals(v, v)) & Vector512.Equals(best, best);
        return Vector512.ConditionalSelect(take, v, best);
    }

    /// <summary>Where a row pair's values lie in its tile's four vectors v0 .. v3 (positions 0 .. 63): the top row at positions
    /// 0 .. OW - 1, the bottom one at Cols .. Cols + OW - 1; the permutations that line the bottom row up under the top one and
    /// split columns into even and odd, and the masks of the pooled columns.</summary>
    private readonly struct PairLayout(int cols, int ow)
    {
        /// <summary>Lane j: position Cols + j of (v1, v2), or Cols + 16 + j of (v2, v3) (16 &lt; Cols &lt;= 32).</summary>
        public readonly Vector512<int> Shift = Vector512.Create(cols - 16) + Vector512<int>.Indices;
        /// <summary>Lane j: element 2j (Even) or 2j + 1 (Odd) of two vectors.</summary>
        public readonly Vector512<int> Even = Vector512<int>.Indices * 2, Odd = Vector512<int>.Indices * 2 + Vector512<int>.One;
        /// <summary>The columns some window covers (the first 2 (OW / 2)), in the first and in the second vector of a row.</summary>
        public readonly Vector512<float> Low = Lanes(Math.Min(16, ow / 2 * 2)), High = Lanes(ow / 2 * 2 - 16);
        /// <summary>The pooled columns (OW / 2 &lt;= 16).</summary>
        public readonly Vector512<float> Mask = Lanes(ow / 2);
        public readonly int Cols = cols, OW = ow;

        private static Vector512<float> Lanes(int count) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
    }

    // rows: one channel's tile row (64 floats: output rows 2i and 2i + 1, Cols apart); bias: the channel's or null -> y: pooled row i (OW / 2)
    /// <summary>y[j] = the largest of f(t + b) over window j's corners t, computed as f(max t + b): pooling first, then the bias
    /// and the activation on one vector instead of four.</summary>
    /// <remarks>The bits are those of the epilogue then <see cref="Pooling.MaxPlane2x2"/> (f(t + b) per element, then the first of
    /// the largest per window). Rounding t + b is non-decreasing in t, and so is f (ReLU or none), so the largest input gives the
    /// largest output; equal outputs have equal bits, because an FMA chain from +0 never ends at -0 (x + y is -0 only when both
    /// are) and t + b is -0 only with t = -0. Two things break this and go to <see cref="PoolPairInOrder{TA}"/>, the epilogue's
    /// order: a NaN in a window (its column sum is then NaN, as +inf with -inf also makes it), and a non-finite bias (with
    /// b = +inf a corner of -inf gives NaN where the largest gives +inf).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PoolPair<TA>(float* rows, float* bias, in PairLayout pair, float* y) where TA : IFusedActivation
    {
        Vector512<float> v0 = Vector512.Load(rows), v1 = Vector512.Load(rows + 16), v2 = Vector512.Load(rows + 32), v3 = Vector512.Load(rows + 48);
        // the bottom row under the top one: columns 0 .. 15 beside v0, 16 .. 31 beside v1
        Vector512<float> bottom0 = Avx512F.PermuteVar16x32x2(v1, pair.Shift, v2), bottom1 = Avx512F.PermuteVar16x32x2(v2, pair.Shift, v3);
        var sums = Vector512.ConditionalSelect(pair.Low, v0 + bottom0, Vector512<float>.Zero) + Vector512.ConditionalSelect(pair.High, v1 + bottom1, Vector512<float>.Zero);
        if (!Vector512.EqualsAll(sums, sums) || (bias != null && !float.IsFinite(*bias)))
        {
            PoolPairInOrder<TA>(rows, bias, pair, y);
            return;
        }
        // columns: max of top and bottom; windows: max of even and odd columns (no NaN, no -0: any order gives the same bits)
        Vector512<float> m0 = Vector512.MaxNative(v0, bottom0), m1 = Vector512.MaxNative(v1, bottom1);
        var best = Vector512.MaxNative(Avx512F.PermuteVar16x32x2(m0, pair.Even, m1), Avx512F.PermuteVar16x32x2(m0, pair.Odd, m1));
        if (bias != null) best = Simd512.Add(best, Vector512.Create(*bias));
        Avx512F.MaskStore(y, pair.Mask, TA.Apply<Simd512, Vector512<float>>(best));
    }

    /// <summary>The pair in the epilogue's order: f(t + b) for every element, in place, then <see cref="Pooling.MaxPlane2x2"/> over the two rows.</summary>
    private static void PoolPairInOrder<TA>(float* rows, float* bias, in PairLayout pair, float* y) where TA : IFusedActivation
    {
        var b = Vector512.Create(bias == null ? 0f : *bias);
        for (int v = 0; v < PairSpan; v += 16) Activated<TA>(rows + v, bias != null, b).Store(rows + v);
        Pooling.MaxPlane2x2(rows, pair.Cols, 2, pair.OW, y);
    }
}
