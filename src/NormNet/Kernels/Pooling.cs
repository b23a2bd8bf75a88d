using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>Max and average pooling over (N, C, H, W), forward and backward side by side; parallel over image planes.</summary>
/// <remarks>Padding counts as -infinity for max pooling and as zeros included in the divisor for average pooling
/// (PyTorch's defaults: count_include_pad = true, ceil_mode = false).</remarks>
public static unsafe partial class Pooling
{
    private struct Args
    {
        public float* X, Y;
        public int* Index;
        public ConvGeometry G;
        public int PlanesPerChunk;
        public bool ScalarOnly;
    }

    // x: (N, C, H, W) -> y: (N, C, OH, OW); argmax: (N, C, OH, OW) index into the plane, -1 for an all-padding window, or empty
    /// <summary>y = max over each window (NaN propagates: the first NaN of the window in row-major order wins; of equal
    /// values the first); argmax records where each came from, unless it is empty (inference, which needs no gradient).</summary>
    public static void MaxForward(ReadOnlySpan<float> x, ConvGeometry g, Span<float> y, Span<int> argmax) => MaxForward(x, g, y, argmax, false);

    /// <summary><see cref="MaxForward(ReadOnlySpan{float}, ConvGeometry, Span{float}, Span{int})"/>, optionally without
    /// vector instructions (the tests compare both paths).</summary>
    internal static void MaxForward(ReadOnlySpan<float> x, ConvGeometry g, Span<float> y, Span<int> argmax, bool scalarOnly)
    {
        Check(x.Length, y.Length, g);
        if (argmax.Length != y.Length && argmax.Length != 0)
            throw new ArgumentException($"MaxPool: argmax has {argmax.Length} elements, expected {y.Length} (or 0 for none).");
        fixed (float* px = x, py = y)
        fixed (int* pi = argmax)
        {
            var a = new Args { X = px, Y = py, Index = argmax.IsEmpty ? null : pi, G = g, ScalarOnly = scalarOnly };
            Parallelism.For(Chunks(ref a), &a, &MaxForwardPlanes);
        }
    }

    // dy: (N, C, OH, OW), argmax -> dx: (N, C, H, W), overwritten
    /// <summary>dx[argmax] += dy; zero elsewhere.</summary>
    public static void MaxBackward(ReadOnlySpan<float> dy, ReadOnlySpan<int> argmax, ConvGeometry g, Span<float> dx) => MaxBackward(dy, argmax, g, dx, false);

    /// <summary><see cref="MaxBackward(ReadOnlySpan{float}, ReadOnlySpan{int}, ConvGeometry, Span{float})"/>, optionally without vector instructions.</summary>
    internal static void MaxBackward(ReadOnlySpan<float> dy, ReadOnlySpan<int> argmax, ConvGeometry g, Span<float> dx, bool scalarOnly)
    {
        Check(dx.Length, dy.Length, g);
        if (argmax.Length != dy.Length) throw new ArgumentException($"MaxPool backward: argmax has {argmax.Length} elements, expected {dy.Length}.");
        fixed (float* pdx = dx, pdy = dy)
        fixed (int* pi = argmax)
        {
            var a = new Args { X = pdx, Y = pdy, Index = pi, G = g, ScalarOnly = scalarOnly };
            Parallelism.For(Chunks(ref a), &a, &MaxBackwardPlanes);
        }
    }

    // x: (N, C, H, W) -> y: (N, C, OH, OW)
    /// <summary>y = sum over each window / (kh * kw).</summary>
    public static void AvgForward(ReadOnlySpan<float> x, ConvGeometry g, Span<float> y)
    {
        Check(x.Length, y.Length, g);
        fixed (float* px = x, py = y)
        {
            var a = new Args { X = px, Y = py, G = g };
            Parallelism.For(Chunks(ref a), &a, &AvgForwardPlanes);
        }
    }

    // dy: (N, C, OH, OW) -> dx: (N, C, H, W), overwritten
    /// <summary>dx[window] += dy / (kh * kw).</summary>
    public static void AvgBackward(ReadOnlySpan<float> dy, ConvGeometry g, Span<float> dx)
    {
        Check(dx.Length, dy.Length, g);
        fixed (float* pdx = dx, pdy = dy)
        {
            var a = new Args { X = pdx, Y = pdy, G = g };
            Parallelism.For(Chunks(ref a), &a, &AvgBackwardPlanes);
        }
    }

    private static void Check(int xLength, int yLength, ConvGeometry g)
    {
        long x = (long)g.N * g.C * g.H * g.W, y = (long)g.N * g.C * g.OutPlane;
        if (xLength != x || yLength != y)
            throw new ArgumentException($"Pooling: input has {xLength} elements (expected {x}), output {yLength} (expected {y}) for {g}.");
    }

    private static int Chunks(ref Args a)
    {
        long planes = (long)a.G.N * a.G.C, plane = (long)a.G.H * a.G.W;
        if (planes * plane < 65536)
        {
            a.PlanesPerChunk = (int)planes;
            return 1;
        }
        a.PlanesPerChunk = (int)Math.Max(1, 32768 / Math.Max(1, plane));
        return (int)((planes + a.PlanesPerChunk - 1) / a.PlanesPerChunk);
    }

    private static (long First, long End) PlaneRange(Args* a, int chunk) =>
        ((long)chunk * a->PlanesPerChunk, Math.Min((long)a->G.N * a->G.C, (long)(chunk + 1) * a->PlanesPerChunk));

    private static void MaxForwardPlanes(void* state, int chunk)
    {
        var a = (Args*)state;
        var g = a->G;
        var (first, end) = PlaneRange(a, chunk);
        if (g is { KH: 2, KW: 2, Stride: 2, Padding: 0 })
        {
            MaxForward2x2(a, first, end);
            return;
        }
        for (long p = first; p < end; p++)
        {
            float* x = a->X + p * g.H * g.W, y = a->Y + p * g.OutPlane;
            int* idx = a->Index == null ? null : a->Index + p * g.OutPlane;
            for (int oy = 0; oy < g.OutH; oy++)
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    float best = float.NegativeInfinity;
                    int at = -1;
                    for (int i = 0; i < g.KH; i++)
                    {
                        int yy = oy * g.Stride - g.Padding + i;
                        if ((uint)yy >= (uint)g.H) continue;
                        for (int j = 0; j < g.KW; j++)
                        {
                            int xx = ox * g.Stride - g.Padding + j;
                            if ((uint)xx >= (uint)g.W) continue;
                            float v = x[yy * g.W + xx];
                            if (v > best || float.IsNaN(v) || at < 0)
                            {
                                best = v;
                                at = yy * g.W + xx;
                                if (float.IsNaN(v)) goto found;
                            }
                        }
                    }
                found:
                    y[oy * g.OutW + ox] = best;
                    if (idx != null) idx[oy * g.OutW + ox] = at;
                }
        }
    }

    private static void MaxBackwardPlanes(void* state, int chunk)
    {
        var a = (Args*)state;
        var g = a->G;
        var (first, end) = PlaneRange(a, chunk);
        if (g is { KH: 2, KW: 2, Stride: 2, Padding: 0 })
        {
            MaxBackward2x2(a, first, end);
            return;
        }
        for (long p = first; p < end; p++)
        {
            float* dx = a->X + p * g.H * g.W, dy = a->Y + p * g.OutPlane;
            int* idx = a->Index + p * g.OutPlane;
            new Span<float>(dx, g.H * g.W).Clear();
            for (int o = 0; o < g.OutPlane; o++)
                if (idx[o] >= 0) dx[idx[o]] += dy[o];
        }
    }

    private static void AvgForwardPlanes(void* state, int chunk)
    {
        var a = (Args*)state;
        var g = a->G;
        var (first, end) = PlaneRange(a, chunk);
        float scale = 1f / (g.KH * g.KW);
        for (long p = first; p < end; p++)
        {
            float* x = a->X + p * g.H * g.W, y = a->Y + p * g.OutPlane;
            for (int oy = 0; oy < g.OutH; oy++)
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    float sum = 0;
                    for (int i = 0; i < g.KH; i++)
                    {
                        int yy = oy * g.Stride - g.Padding + i;
                        if ((uint)yy >= (uint)g.H) continue;
                        for (int j = 0; j < g.KW; j++)
                        {
                            int xx = ox * g.Stride - g.Padding + j;
                            if ((uint)xx < (uint)g.W) sum += x[yy * g.W + xx];
                        }
                    }
                    y[oy * g.OutW + ox] = sum * scale;
                }
        }
    }

    private static void AvgBackwardPlanes(void* state, int chunk)
    {
        var a = (Args*)state;
        var g = a->G;
        var (first, end) = PlaneRange(a, chunk);
        float scale = 1f / (g.KH * g.KW);
        for (long p = first; p < end; p++)
        {
            float* dx = a->X + p * g.H * g.W, dy = a->Y + p * g.OutPlane;
            new Span<float>(dx, g.H * g.W).Clear();
            for (int oy = 0; oy < g.OutH; oy++)
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    float v = dy[oy * g.OutW + ox] * scale;
                    for (int i = 0; i < g.KH; i++)
                    {
                        int yy = oy * g.Stride - g.Padding + i;
                        if ((uint)yy >= (uint)g.H) continue;
                        for (int j = 0; j < g.KW; j++)
                        {
                            int xx = ox * g.Stride - g.Padding + j;
                            if ((uint)xx < (uint)g.W) dx[yy * g.W + xx] += v;
                        }
                    }
                }
        }
    }
}
