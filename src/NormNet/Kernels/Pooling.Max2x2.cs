using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace NormNet.Kernels;

public static unsafe partial class Pooling
{
    /// <summary>Whether the 2x2 windows run four at a time: a two-source even/odd shuffle is needed (x86 shufps, Arm64 uzp).</summary>
    private static bool Vector2x2 => Shuffles.Supported;

    // x rows 2*oy and 2*oy+1 of each plane -> y[oy, ox] = the max of x[2oy..2oy+1, 2ox..2ox+1], argmax (or none)
    /// <summary>The common 2x2, stride-2 window without padding, each window exactly as <see cref="Window2x2"/> decides it.</summary>
    private static void MaxForward2x2(Args* a, long first, long end) => ForEachWindow2x2(a, first, end, new MaxWindows());

    /// <summary>Visits every window (plane, oy, ox) of planes first .. end - 1 row by row (see <see cref="WindowRow2x2"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForEachWindow2x2<TOp>(Args* a, long first, long end, TOp op) where TOp : struct, IWindows2x2
    {
        var g = a->G;
        bool vector = !a->ScalarOnly && Vector2x2 && g.OutW >= 4;
        for (long p = first; p < end; p++)
            for (int oy = 0; oy < g.OutH; oy++)
                WindowRow2x2(Row2x2.Of(a, p, oy), g.OutW, vector, op);
    }

    // x: a (rows, cols) plane, rows rowStride apart -> y: (rows / 2, cols / 2)
    /// <summary>The eval-mode 2x2 max pooling (no argmax) of one plane whose rows lie <paramref name="rowStride"/> apart,
    /// each window decided as <see cref="MaxForward(ReadOnlySpan{float}, ConvGeometry, Span{float}, Span{int})"/> decides
    /// it (the same bits): for a kernel that pools its own output tile while that is in cache.</summary>
    internal static void MaxPlane2x2(float* x, int rowStride, int rows, int cols, float* y)
    {
        int outH = rows / 2, outW = cols / 2;
        bool vector = Vector2x2 && outW >= 4;
        for (int oy = 0; oy < outH; oy++)
            WindowRow2x2(new Row2x2(x, 2 * oy * rowStride, rowStride, y + oy * outW, null), outW, vector, new MaxWindows());
    }

    /// <summary>One output row's windows: four per step in 128-bit vectors (a last step overlapping the one before covers
    /// the tail), or one at a time where vectors do not run.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WindowRow2x2<TOp>(in Row2x2 row, int outW, bool vector, TOp op) where TOp : struct, IWindows2x2
    {
        if (!vector)
            for (int ox = 0; ox < outW; ox++) op.One(row, ox);
        else
            for (int ox = 0, last = outW - 4; ; ox = Math.Min(ox + 4, last))
            {
                op.Four(row, ox);
                if (ox == last) break;
            }
    }

    /// <summary>One output row of one plane: X at the plane's input (or dx), R0 its top input row's offset, W the input's
    /// row stride, Y and Index at the output row (or dy's; Index null when no argmax is kept).</summary>
    private readonly struct Row2x2(float* x, int r0, int w, float* y, int* index)
    {
        public readonly float* X = x;
        public readonly int R0 = r0, W = w;
        public readonly float* Y = y;
        public readonly int* Index = index;

        /// <summary>Row oy of plane p of the job: top input row 2 oy.</summary>
        public static Row2x2 Of(Args* a, long p, int oy) => new(a->X + p * a->G.H * a->G.W, 2 * oy * a->G.W, a->G.W,
            a->Y + p * a->G.OutPlane + oy * a->G.OutW, a->Index == null ? null : a->Index + p * a->G.OutPlane + oy * a->G.OutW);
    }

    private interface IWindows2x2
    {
        /// <summary>Windows ox .. ox + 3 of the row.</summary>
        void Four(in Row2x2 row, int ox);

        /// <summary>Window ox of the row.</summary>
        void One(in Row2x2 row, int ox);
    }

    private readonly struct MaxWindows : IWindows2x2
    {
        public void Four(in Row2x2 r, int ox) => Four2x2(r.X, r.R0, r.W, ox, r.Y, r.Index);
        public void One(in Row2x2 r, int ox) => Window2x2(r.X, r.R0, r.W, ox, r.Y, r.Index);
    }

    private readonly struct MaxGradientWindows : IWindows2x2
    {
        public void Four(in Row2x2 r, int ox) => Four2x2Backward(r.X, r.R0, r.W, ox, r.Y, r.Index);
        public void One(in Row2x2 r, int ox) => Window2x2Backward(r.X, r.R0, r.W, ox, r.Y[ox], r.Index[ox]);
    }

    /// <summary>Windows ox .. ox + 3 of output row r0 / (2W): the four corners deinterleaved into t0 (top left), t1, b0, b1
    /// (bottom right), then a strict-greater chain in that order, so that of equal values the first wins; a window
    /// holding NaN (seen as a non-finite sum, which also catches +inf with -inf) goes to <see cref="Window2x2"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four2x2(float* x, int r0, int w, int ox, float* yo, int* io)
    {
        float* top = x + r0 + 2 * ox, bottom = top + w;
        Shuffles.Deinterleave(Vector128.Load(top), Vector128.Load(top + 4), out var t0, out var t1);
        Shuffles.Deinterleave(Vector128.Load(bottom), Vector128.Load(bottom + 4), out var b0, out var b1);
        var sum = (t0 + t1) + (b0 + b1);
        if (!Vector128.EqualsAll(sum, sum))
        {
            for (int i = 0; i < 4; i++) Window2x2(x, r0, w, ox + i, yo, io);
            return;
        }
        // best = t0; then t1, b0, b1 replace it only when strictly greater: y = max, the first of equals
        var g1 = Vector128.GreaterThan(t1, t0);
        var best = Vector128.ConditionalSelect(g1, t1, t0);
        var g2 = Vector128.GreaterThan(b0, best);
        best = Vector128.ConditionalSelect(g2, b0, best);
        var g3 = Vector128.GreaterThan(b1, best);
        best = Vector128.ConditionalSelect(g3, b1, best);
        best.Store(yo + ox);
        if (io == null) return;
        // argmax = r0 + 2 * (ox + i) + offset, offset 0, 1, W, W + 1 for t0, t1, b0, b1
        var offset = Vector128.ConditionalSelect(g1.AsInt32(), Vector128<int>.One, Vector128<int>.Zero);
        offset = Vector128.ConditionalSelect(g2.AsInt32(), Vector128.Create(w), offset);
        offset = Vector128.ConditionalSelect(g3.AsInt32(), Vector128.Create(w + 1), offset);
        (Vector128.Create(r0 + 2 * ox) + Vector128.Create(0, 2, 4, 6) + offset).Store(io + ox);
    }

    /// <summary>One window, row-major (top left, top right, bottom left, bottom right): the first NaN wins, else the
    /// first of the largest values (y is that element itself, so -0 before +0 stays -0, as PyTorch's loop gives).</summary>
    private static void Window2x2(float* x, int r0, int w, int ox, float* yo, int* io)
    {
        int at = r0 + 2 * ox;
        float best = x[at];
        if (!float.IsNaN(best))
        {
            int start = at;
            for (int k = 1; k < 4; k++)
            {
                int i = start + (k >> 1) * w + (k & 1);
                float v = x[i];
                if (v > best || float.IsNaN(v))
                {
                    best = v;
                    at = i;
                    if (float.IsNaN(v)) break;
                }
            }
        }
        yo[ox] = best;
        if (io != null) io[ox] = at;
    }

    // dy: (N, C, OH, OW), argmax -> dx: (N, C, H, W), overwritten
    /// <summary>The backward of <see cref="MaxForward2x2"/>: the windows do not overlap, so every dx element is written once,
    /// dy at the window's argmax and 0 at its other three places (+0: dy + 0, the bits of the clear-and-add path), four
    /// windows per vector step; a row or column no window covers (odd H or W) is zeroed.</summary>
    private static void MaxBackward2x2(Args* a, long first, long end)
    {
        ForEachWindow2x2(a, first, end, new MaxGradientWindows());
        var g = a->G;
        if (((g.W | g.H) & 1) == 0) return;
        for (long p = first; p < end; p++)
        {
            float* dx = a->X + p * g.H * g.W;
            if ((g.W & 1) != 0)
                for (int i = 0; i < 2 * g.OutH; i++) dx[i * g.W + g.W - 1] = 0;
            if ((g.H & 1) != 0) new Span<float>(dx + (g.H - 1) * g.W, g.W).Clear();
        }
    }

    /// <summary>Windows ox .. ox + 3: offset = argmax - (top left) is 0, 1, W or W + 1; each corner takes dy where it is
    /// the argmax, and the corners are interleaved back into the two rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Four2x2Backward(float* dx, int r0, int w, int ox, float* dy, int* idx)
    {
        var g = Vector128.Load(dy + ox) + Vector128<float>.Zero;
        var offset = Vector128.Load(idx + ox) - (Vector128.Create(r0 + 2 * ox) + Vector128.Create(0, 2, 4, 6));
        var isT0 = Vector128.Equals(offset, Vector128<int>.Zero);
        var isT1 = Vector128.Equals(offset, Vector128<int>.One);
        var isB0 = Vector128.Equals(offset, Vector128.Create(w));
        var isB1 = Vector128.Equals(offset, Vector128.Create(w + 1));
        if (!Vector128.EqualsAll(isT0 | isT1 | isB0 | isB1, Vector128<int>.AllBitsSet))
            for (int i = 0; i < 4; i++) Window2x2Backward(dx, r0, w, ox + i, dy[ox + i], idx[ox + i]); // throws, naming it
        var zero = Vector128<float>.Zero;
        Shuffles.Interleave(Vector128.ConditionalSelect(isT0.AsSingle(), g, zero), Vector128.ConditionalSelect(isT1.AsSingle(), g, zero), dx + r0 + 2 * ox);
        Shuffles.Interleave(Vector128.ConditionalSelect(isB0.AsSingle(), g, zero), Vector128.ConditionalSelect(isB1.AsSingle(), g, zero), dx + r0 + w + 2 * ox);
    }

    /// <summary>One window's backward: dy at its argmax, +0 at the other three; an argmax outside the window is an error.</summary>
    private static void Window2x2Backward(float* dx, int r0, int w, int ox, float dy, int at)
    {
        int tl = r0 + 2 * ox;
        int offset = at - tl;
        if (offset != 0 && offset != 1 && offset != w && offset != w + 1)
            throw new ArgumentException($"MaxPool backward: argmax {at} is outside its 2x2 window at plane index {tl} (row width {w}); pass the argmax of MaxForward with the same geometry.");
        dx[tl] = offset == 0 ? dy + 0f : 0f;
        dx[tl + 1] = offset == 1 ? dy + 0f : 0f;
        dx[tl + w] = offset == w ? dy + 0f : 0f;
        dx[tl + w + 1] = offset == w + 1 ? dy + 0f : 0f;
    }
}
