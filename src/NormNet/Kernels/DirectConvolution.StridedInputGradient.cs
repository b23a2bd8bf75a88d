using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NormNet.Threading;

namespace NormNet.Kernels;

public static unsafe partial class DirectConvolution
{
    /// <summary>One output phase (a, b) of a strided input gradient: the input pixels (s*u + a, s*v + b) read the kernel rows
    /// kh = Kh0 + s*m (m &lt; Rows) and columns kw = Kw0 + s*n (n &lt; Cols), at dy[u + A - m, v + B - n].</summary>
    private readonly struct GradientPhase(ConvGeometry g, int a, int b)
    {
        public readonly int A = a, B = b;
        public readonly int Kh0 = (a + g.Padding) % g.Stride, Kw0 = (b + g.Padding) % g.Stride;
        public int Rows(ConvGeometry g) => Kh0 < g.KH ? (g.KH - Kh0 + g.Stride - 1) / g.Stride : 0;
        public int Cols(ConvGeometry g) => Kw0 < g.KW ? (g.KW - Kw0 + g.Stride - 1) / g.Stride : 0;
        /// <summary>dy's row for input row u of this phase and kernel row m: u + RowShift - m.</summary>
        public int RowShift(ConvGeometry g) => (A + g.Padding - Kh0) / g.Stride;
        public int ColShift(ConvGeometry g) => (B + g.Padding - Kw0) / g.Stride;
        /// <summary>Input rows and columns in this phase: s*u + a &lt; H, s*v + b &lt; W.</summary>
        public int U(ConvGeometry g) => (g.H - A + g.Stride - 1) / g.Stride;
        public int V(ConvGeometry g) => (g.W - B + g.Stride - 1) / g.Stride;
    }

    /// <summary>dy placed M rows and columns in, Q columns wide, R rows, so that every phase's taps read inside it at
    /// non-negative offsets and its padded-width output rows read zeros past dy. M is the most any tap reaches before a
    /// phase's first pixel (Rows - 1 - RowShift, and the same for columns): 0 for the 3x3, padding-1, stride-2 convolutions,
    /// whose phases' rows had been 19 wide with ceil(k / s) = 2 on both sides for 14 pixels (15 now).</summary>
    private readonly struct GradientPlanes
    {
        public readonly int M, Q, R;

        public GradientPlanes(ConvGeometry g)
        {
            int reach = 0;
            for (int a = 0; a < g.Stride; a++)
            {
                // rows depend on the row phase only, columns on the column phase
                var f = new GradientPhase(g, a, a);
                reach = Math.Max(reach, Math.Max(f.Rows(g) - 1 - f.RowShift(g), f.Cols(g) - 1 - f.ColShift(g)));
            }
            M = reach;
            int shift = (g.Stride - 1 + g.Padding) / g.Stride; // the largest RowShift / ColShift
            int u = (g.H + g.Stride - 1) / g.Stride, v = (g.W + g.Stride - 1) / g.Stride;
            Q = Math.Max(g.OutW, v + shift) + M;
            R = Math.Max(g.OutH, u + shift) + M + 1;
        }

        public int Plane => R * Q;
    }

    // dy: (N, Cout, OH, OW); w: (Cout, C, k, k); dx: (N, C, H, W), overwritten
    /// <summary>dx at stride s &gt; 1, as s x s stride-1 convolutions of dy, one per phase (a, b) of the input pixels
    /// (s*u + a, s*v + b): dx[c, s*u + a, s*v + b] = sum over (o, m, n) of w[o, c, Kh0 + s*m, Kw0 + s*n] * dy[o, u + A - m, v + B - n],
    /// each run by the forward's register tiles over dy padded once per image, then stored to its pixels. Every input
    /// pixel is one FMA chain over (o, m, n) in order: the same bits for any thread count.</summary>
    private static void StridedInputGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> w, ConvGeometry g, int cout, Span<float> dx, SimdWidth width)
    {
        if (g.N == 0) return;
        var planes = new GradientPlanes(g);
        // channel tiles where the phases' rows are at most 16 wide and dx's channels come in blocks of 32 (as the forward's)
        int s = g.Stride, phases = s * s, kk = g.KH * g.KW;
        int rows = ChannelTilesFit(width, g.C, (g.W + s - 1) / s) ? ChannelBlock : Rows;
        int blocks = (g.C + rows - 1) / rows;
        // per phase: its tap count, then its taps (o, m, n) as offsets into the padded dy; and its weight panels
        int tapStride = cout * kk + 1, weightStride = blocks * rows * cout * kk;
        int[] tapBuffer = ThreadScratch.Get(ref t_gradientTaps, phases * tapStride);
        float[] weightBuffer = ThreadScratch.Get(ref t_gradientWeights, phases * weightStride);
        for (int phase = 0; phase < phases; phase++)
            PackPhase(w, g, cout, planes, new GradientPhase(g, phase / s, phase % s), rows, tapBuffer.AsSpan(phase * tapStride, tapStride),
                weightBuffer.AsSpan(phase * weightStride, weightStride));
        fixed (float* pdy = dy, pw = weightBuffer, pdx = dx)
        fixed (int* pt = tapBuffer)
        {
            var a = new StridedGradientArgs { Dy = pdy, W = pw, Dx = pdx, Taps = pt, G = g, Cout = cout, Planes = planes, TapStride = tapStride, WeightStride = weightStride,
                BlockRows = rows, Width = width };
            double flops = 2.0 * cout * g.PatchSize * g.OutPlane * g.N;
            if (g.N == 1 || flops < InlineFlops)
                for (int i = 0; i < g.N; i++) StridedGradientImage(&a, i);
            else Parallelism.For(g.N, &a, &StridedGradientImage);
        }
    }

    // w: (Cout, C, k, k) -> taps[0] = count, taps[1 + t] = offset of tap t = (o, m, n) in the padded dy;
    // weights: panels of `panel` input channels, weights[(cb * count + t) * panel + r] = w[o, cb * panel + r, Kh0 + s*m, Kw0 + s*n] (0 past C)
    /// <summary>One phase's taps and weight panels (<see cref="Rows"/> or <see cref="ChannelBlock"/> channels wide), in the
    /// (o, m, n) order every pixel's FMA chain follows.</summary>
    private static void PackPhase(ReadOnlySpan<float> w, ConvGeometry g, int cout, GradientPlanes planes, GradientPhase f, int panel, Span<int> taps, Span<float> weights)
    {
        int rows = f.Rows(g), cols = f.Cols(g), count = cout * rows * cols, blocks = (g.C + panel - 1) / panel, t = 0;
        taps[0] = count;
        for (int o = 0; o < cout; o++)
            for (int m = 0; m < rows; m++)
                for (int n = 0; n < cols; n++, t++)
                {
                    taps[1 + t] = o * planes.Plane + (f.RowShift(g) - m + planes.M) * planes.Q + f.ColShift(g) - n + planes.M;
                    int kh = f.Kh0 + g.Stride * m, kw = f.Kw0 + g.Stride * n;
                    for (int c = 0; c < blocks * panel; c++)
                        weights[((c / panel) * count + t) * panel + c % panel] = c < g.C ? w[((o * g.C + c) * g.KH + kh) * g.KW + kw] : 0f;
                }
    }

    private struct StridedGradientArgs
    {
        public float* Dy, W, Dx;
        public int* Taps;
        public ConvGeometry G;
        public GradientPlanes Planes;
        public int Cout, TapStride, WeightStride;
        /// <summary>Input channels per weight panel: <see cref="Rows"/>, or <see cref="ChannelBlock"/> for channel tiles.</summary>
        public int BlockRows;
        public SimdWidth Width;
    }

    private static void StridedGradientImage(void* state, int n)
    {
        var a = (StridedGradientArgs*)state;
        SimdDispatch.Run(a->Width, new StridedGradientOp(a, n));
    }

    private readonly struct StridedGradientOp(StridedGradientArgs* a, int n) : ISimdOperation
    {
        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct => StridedGradientImage<TS, TV>(a, n);
    }

    /// <summary>Pads image n's dy, then per phase runs the register tiles over its padded-width rows and stores their
    /// valid columns to dx's pixels of that phase (zeros where a phase reads no kernel tap): at stride 2 the two column
    /// phases of a row phase interleaved a vector at a time (one pixel at a time, the scatter took 40% of the time).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StridedGradientImage<TS, TV>(StridedGradientArgs* a, int n) where TS : ISimd<TV> where TV : struct
    {
        var g = a->G;
        var planes = a->Planes;
        int s = g.Stride, cout = a->Cout, panel = a->BlockRows, blocks = (g.C + panel - 1) / panel;
        int qrMax = PhaseStride<TS, TV>(a, (g.H + s - 1) / s);
        int length = cout * planes.Plane + qrMax + TS.Width;
        float[] dyBuffer = ThreadScratch.Get(ref t_input, length);
        float[] outBuffer = ThreadScratch.Get(ref t_output, 2 * blocks * panel * qrMax);
        fixed (float* dyp = dyBuffer, yp = outBuffer)
        {
            // dyp[o, M + i, M + j] = dy[n, o, i, j], 0 elsewhere
            new Span<float>(dyp, length).Clear();
            float* src = a->Dy + (long)n * cout * g.OutPlane;
            for (int o = 0; o < cout; o++)
                for (int i = 0; i < g.OutH; i++)
                    new ReadOnlySpan<float>(src + ((long)o * g.OutH + i) * g.OutW, g.OutW)
                        .CopyTo(new Span<float>(dyp + (long)o * planes.Plane + (i + planes.M) * planes.Q + planes.M, g.OutW));
            float* dx = a->Dx + (long)n * g.C * g.H * g.W;
            int phaseFloats = blocks * panel * qrMax;
            for (int ra = 0; ra < s; ra++)
            {
                if (s == 2)
                {
                    // the two column phases of these rows side by side, then interleaved into dx's rows four pairs a step
                    float* even = Phase<TS, TV>(a, dyp, yp, new GradientPhase(g, ra, 0), out int qr);
                    float* odd = Phase<TS, TV>(a, dyp, yp + phaseFloats, new GradientPhase(g, ra, 1), out _);
                    InterleavePhases(even, odd, qr, planes.Q, g, ra, dx);
                    continue;
                }
                for (int cb = 0; cb < s; cb++)
                {
                    var f = new GradientPhase(g, ra, cb);
                    ScatterPhase(Phase<TS, TV>(a, dyp, yp, f, out int qr), qr, planes.Q, g, f, dx);
                }
            }
        }
    }

    /// <summary>The stride of a phase's channels in its output rows: its u rows of Q, and with channel tiles a vector more
    /// (where the last run's vector ends), a whole number of vectors.</summary>
    private static int PhaseStride<TS, TV>(StridedGradientArgs* a, int u) where TS : ISimd<TV> where TV : struct =>
        (Math.Max(0, u) * a->Planes.Q + (a->BlockRows == ChannelBlock ? TS.Width : 0) + TS.Width - 1) / TS.Width * TS.Width;

    /// <summary>Runs one phase's register tiles (padded-width tiles, or channel tiles over its valid positions) into
    /// <paramref name="yp"/> (C rows, qr apart, each u rows of Q); returns yp, or null when the phase reads no kernel tap
    /// (its pixels get 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Phase<TS, TV>(StridedGradientArgs* a, float* dyp, float* yp, GradientPhase f, out int qr) where TS : ISimd<TV> where TV : struct
    {
        var g = a->G;
        int phase = f.A * g.Stride + f.B, blocks = (g.C + a->BlockRows - 1) / a->BlockRows, vectors = TileVectors<TS, TV>(), span = vectors * TS.Width;
        int* taps = a->Taps + phase * a->TapStride;
        int count = taps[0], u = f.U(g);
        qr = PhaseStride<TS, TV>(a, u);
        if (count == 0 || u <= 0 || f.V(g) <= 0) return null;
        float* w = a->W + (long)phase * a->WeightStride;
        if (a->BlockRows == ChannelBlock)
        {
            PhaseChannelTiles<TS, TV>(dyp, taps + 1, count, w, u, f.V(g), a->Planes.Q, blocks, yp, qr);
            return yp;
        }
        for (int q0 = 0; q0 < qr;)
        {
            int vs = qr - q0 >= span ? vectors : qr - q0 >= 2 * TS.Width ? 2 : 1;
            for (int cb = 0; cb < blocks; cb++)
                Tile<TS, TV>(vs, dyp + q0, taps + 1, count, w + (long)cb * count * Rows, yp + (long)cb * Rows * qr + q0, qr);
            q0 += vs * TS.Width;
        }
        return yp;
    }

    /// <summary>A phase's channel tiles: each of its u output rows in runs of up to 14 of its v valid positions, against
    /// every 32-channel block, stored into yp's rows (q apart, channels qr apart) by <see cref="StoreTransposed"/>.</summary>
    private static void PhaseChannelTiles<TS, TV>(float* dyp, int* taps, int count, float* w, int u, int v, int q, int blocks, float* yp, int qr)
        where TS : ISimd<TV> where TV : struct
    {
        if (2 * TS.Width != ChannelBlock) throw new InvalidOperationException($"Channel tiles need {ChannelBlock / 2}-wide vectors, not {TS.Width}.");
        float* tile = stackalloc float[16 * ChannelBlock];
        for (int i = 0; i < u; i++)
            for (int j0 = 0; j0 < v;)
            {
                int run = RunLength(v - j0);
                for (int cb = 0; cb < blocks; cb++)
                {
                    RunChannelTile<TS, TV>(run, dyp + i * q + j0, taps, count, w + (long)cb * count * ChannelBlock, tile);
                    StoreTransposed(tile, yp + (long)cb * ChannelBlock * qr + i * q + j0, qr);
                }
                j0 += run;
            }
    }

    // even, odd: (C, qr) phases (a, 0) and (a, 1), rows q apart (null: 0) -> dx[c, 2u + a, 2v] = even[c, u, v], dx[c, 2u + a, 2v + 1] = odd[c, u, v]
    private static void InterleavePhases(float* even, float* odd, int qr, int q, ConvGeometry g, int a, float* dx)
    {
        int u = (g.H - a + 1) / 2, pairs = g.W / 2;
        bool vector = Shuffles.Supported && even != null && odd != null;
        for (int c = 0; c < g.C; c++)
            for (int i = 0; i < u; i++)
            {
                float* dst = dx + ((long)c * g.H + 2 * i + a) * g.W;
                long row = (long)c * qr + i * q;
                int j = 0;
                if (vector)
                    for (; j + 4 <= pairs; j += 4) Shuffles.Interleave(Vector128.Load(even + row + j), Vector128.Load(odd + row + j), dst + 2 * j);
                for (; j < pairs; j++)
                {
                    dst[2 * j] = even == null ? 0f : even[row + j];
                    dst[2 * j + 1] = odd == null ? 0f : odd[row + j];
                }
                if (g.W % 2 == 1) dst[g.W - 1] = even == null ? 0f : even[row + pairs];
            }
    }

    // yp: (C, qr) the phase's padded-width rows (null: the phase reads no tap) -> dx[c, s*u + a, s*v + b] for u < U, v < V
    private static void ScatterPhase(float* yp, int qr, int q, ConvGeometry g, GradientPhase f, float* dx)
    {
        int s = g.Stride, u = f.U(g), v = f.V(g);
        for (int c = 0; c < g.C; c++)
            for (int i = 0; i < u; i++)
            {
                float* dst = dx + ((long)c * g.H + s * i + f.A) * g.W + f.B;
                float* src = yp == null ? null : yp + (long)c * qr + i * q;
                for (int j = 0; j < v; j++) dst[s * j] = src == null ? 0f : src[j];
            }
    }

    [ThreadStatic] private static int[]? t_gradientTaps;
    [ThreadStatic] private static float[]? t_gradientWeights;
}
