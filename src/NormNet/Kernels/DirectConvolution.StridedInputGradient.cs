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

    /// <summary>dy padded by M = ceil(k / s) on every side, Q columns wide, R rows, so that every phase's taps read inside it
    /// at non-negative offsets and its padded-width output rows read zeros past dy.</summary>
    private readonly struct GradientPlanes
    {
        public readonly int M, Q, R;

        public GradientPlanes(ConvGeometry g)
        {
            M = (g.KH + g.Stride - 1) / g.Stride;
            int shift = (g.Stride - 1 + g.Padding) / g.Stride; // the largest RowShift / ColShift
            int u = (g.H + g.Stride - 1) / g.Stride, v = (g.W + g.Stride - 1) / g.Stride;
            Q = Math.Max(g.OutW, v + shift) + 2 * M;
            R = Math.Max(g.OutH, u + shift) + 2 * M + 1;
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
        int s = g.Stride, phases = s * s, blocks = (g.C + Rows - 1) / Rows, kk = g.KH * g.KW;
        // per phase: its tap count, then its taps (o, m, n) as offsets into the padded dy; and its weight panels
        int tapStride = cout * kk + 1, weightStride = blocks * Rows * cout * kk;
        int[] tapBuffer = ThreadScratch.Get(ref t_gradientTaps, phases * tapStride);
        float[] weightBuffer = ThreadScratch.Get(ref t_gradientWeights, phases * weightStride);
        for (int phase = 0; phase < phases; phase++)
            PackPhase(w, g, cout, planes, new GradientPhase(g, phase / s, phase % s), tapBuffer.AsSpan(phase * tapStride, tapStride),
                weightBuffer.AsSpan(phase * weightStride, weightStride));
        fixed (float* pdy = dy, pw = weightBuffer, pdx = dx)
        fixed (int* pt = tapBuffer)
        {
            var a = new StridedGradientArgs { Dy = pdy, W = pw, Dx = pdx, Taps = pt, G = g, Cout = cout, Planes = planes, TapStride = tapStride, WeightStride = weightStride, Width = width };
            double flops = 2.0 * cout * g.PatchSize * g.OutPlane * g.N;
            if (g.N == 1 || flops < InlineFlops)
                for (int i = 0; i < g.N; i++) StridedGradientImage(&a, i);
            else Parallelism.For(g.N, &a, &StridedGradientImage);
        }
    }

    // w: (Cout, C, k, k) -> taps[0] = count, taps[1 + t] = offset of tap t = (o, m, n) in the padded dy;
    // weights: panels of Rows input channels, weights[(cb * count + t) * Rows + r] = w[o, cb * Rows + r, Kh0 + s*m, Kw0 + s*n] (0 past C)
    /// <summary>One phase's taps and weight panels, in the (o, m, n) order every pixel's FMA chain follows.</summary>
    private static void PackPhase(ReadOnlySpan<float> w, ConvGeometry g, int cout, GradientPlanes planes, GradientPhase f, Span<int> taps, Span<float> weights)
    {
        int rows = f.Rows(g), cols = f.Cols(g), count = cout * rows * cols, blocks = (g.C + Rows - 1) / Rows, t = 0;
        taps[0] = count;
        for (int o = 0; o < cout; o++)
            for (int m = 0; m < rows; m++)
                for (int n = 0; n < cols; n++, t++)
                {
                    taps[1 + t] = o * planes.Plane + (f.RowShift(g) - m + planes.M) * planes.Q + f.ColShift(g) - n + planes.M;
                    int kh = f.Kh0 + g.Stride * m, kw = f.Kw0 + g.Stride * n;
                    for (int c = 0; c < blocks * Rows; c++)
                        weights[((c / Rows) * count + t) * Rows + c % Rows] = c < g.C ? w[((o * g.C + c) * g.KH + kh) * g.KW + kw] : 0f;
                }
    }

    private struct StridedGradientArgs
    {
        public float* Dy, W, Dx;
        public int* Taps;
        public ConvGeometry G;
        public GradientPlanes Planes;
        public int Cout, TapStride, WeightStride;
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
        int s = g.Stride, cout = a->Cout, blocks = (g.C + Rows - 1) / Rows;
        int qrMax = (((g.H + s - 1) / s) * planes.Q + TS.Width - 1) / TS.Width * TS.Width;
        int length = cout * planes.Plane + qrMax + TS.Width;
        float[] dyBuffer = ThreadScratch.Get(ref t_input, length);
        float[] outBuffer = ThreadScratch.Get(ref t_output, 2 * blocks * Rows * qrMax);
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
            int phaseFloats = blocks * Rows * qrMax;
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

    /// <summary>Runs one phase's register tiles over its padded-width output rows into <paramref name="yp"/> (C rows, qr
    /// apart); returns yp, or null when the phase reads no kernel tap (its pixels get 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Phase<TS, TV>(StridedGradientArgs* a, float* dyp, float* yp, GradientPhase f, out int qr) where TS : ISimd<TV> where TV : struct
    {
        var g = a->G;
        int phase = f.A * g.Stride + f.B, blocks = (g.C + Rows - 1) / Rows, vectors = TileVectors<TS, TV>(), span = vectors * TS.Width;
        int* taps = a->Taps + phase * a->TapStride;
        int count = taps[0], u = f.U(g);
        qr = (Math.Max(0, u) * a->Planes.Q + TS.Width - 1) / TS.Width * TS.Width;
        if (count == 0 || u <= 0 || f.V(g) <= 0) return null;
        float* w = a->W + (long)phase * a->WeightStride;
        for (int q0 = 0; q0 < qr;)
        {
            int vs = qr - q0 >= span ? vectors : qr - q0 >= 2 * TS.Width ? 2 : 1;
            for (int cb = 0; cb < blocks; cb++)
                Tile<TS, TV>(vs, dyp + q0, taps + 1, count, w + (long)cb * count * Rows, yp + (long)cb * Rows * qr + q0, qr);
            q0 += vs * TS.Width;
        }
        return yp;
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
