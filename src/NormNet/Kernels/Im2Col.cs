using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>
/// Unfolds image patches into matrix columns (im2col) so a convolution becomes one matrix product, and folds
/// column gradients back (col2im). Layout: cols is (C*kh*kw, N*OutH*OutW); row (c, i, j) holds input pixel
/// (c, oy*s - p + i, ox*s - p + j) of every output position (n, oy, ox), zero outside the image.
/// </summary>
public static unsafe class Im2Col
{
    private struct Args
    {
        public float* X, Cols;
        public ConvGeometry G;
    }

    // x: (N, C, H, W) -> cols: (C*kh*kw, N*OH*OW)
    /// <summary>cols[(c*kh + i)*kw + j, n*P + oy*OW + ox] = x[n, c, oy*s - p + i, ox*s - p + j] (or 0).</summary>
    public static void Unfold(ReadOnlySpan<float> x, ConvGeometry g, Span<float> cols)
    {
        Check(x.Length, cols.Length, g);
        fixed (float* px = x, pc = cols)
        {
            var a = new Args { X = px, Cols = pc, G = g };
            Parallelism.For(Chunks(g), &a, &UnfoldChannel);
        }
    }

    // dcols: (C*kh*kw, N*OH*OW) -> dx: (N, C, H, W), overwritten
    /// <summary>dx[n, c, y, x] = sum of dcols over every (i, j, oy, ox) that read that pixel (the adjoint of <see cref="Unfold"/>).</summary>
    public static void Fold(ReadOnlySpan<float> dcols, ConvGeometry g, Span<float> dx)
    {
        Check(dx.Length, dcols.Length, g);
        fixed (float* px = dx, pc = dcols)
        {
            var a = new Args { X = px, Cols = pc, G = g };
            Parallelism.For(Chunks(g), &a, &FoldChannel);
        }
    }

    private static void Check(int xLength, int colsLength, ConvGeometry g)
    {
        long x = (long)g.N * g.C * g.H * g.W, cols = (long)g.PatchSize * g.N * g.OutPlane;
        if (xLength != x || colsLength != cols)
            throw new ArgumentException($"Im2Col: image has {xLength} elements (expected {x}), columns {colsLength} (expected {cols}) for {g}.");
    }

    /// <summary>One chunk per input channel when the job is big enough to share.</summary>
    private static int Chunks(ConvGeometry g) => (long)g.PatchSize * g.N * g.OutPlane < 65536 ? 1 : g.C;

    private static void UnfoldChannel(void* state, int chunk)
    {
        var a = (Args*)state;
        var g = a->G;
        int c0 = 0, c1 = g.C;
        if (Chunks(g) != 1) { c0 = chunk; c1 = chunk + 1; }
        int oh = g.OutH, ow = g.OutW, plane = oh * ow;
        long rowLength = (long)g.N * plane;
        for (int c = c0; c < c1; c++)
            for (int i = 0; i < g.KH; i++)
                for (int j = 0; j < g.KW; j++)
                {
                    float* row = a->Cols + ((long)(c * g.KH + i) * g.KW + j) * rowLength;
                    for (int n = 0; n < g.N; n++)
                    {
                        float* src = a->X + ((long)n * g.C + c) * g.H * g.W;
                        float* dst = row + (long)n * plane;
                        for (int oy = 0; oy < oh; oy++)
                        {
                            int y = oy * g.Stride - g.Padding + i;
                            float* d = dst + oy * ow;
                            if ((uint)y >= (uint)g.H)
                            {
                                new Span<float>(d, ow).Clear();
                                continue;
                            }
                            float* s = src + y * g.W;
                            for (int ox = 0; ox < ow; ox++)
                            {
                                int x = ox * g.Stride - g.Padding + j;
                                d[ox] = (uint)x < (uint)g.W ? s[x] : 0f;
                            }
                        }
                    }
                }
    }

    private static void FoldChannel(void* state, int chunk)
    {
        var a = (Args*)state;
        var g = a->G;
        int c0 = 0, c1 = g.C;
        if (Chunks(g) != 1) { c0 = chunk; c1 = chunk + 1; }
        int oh = g.OutH, ow = g.OutW, plane = oh * ow;
        long rowLength = (long)g.N * plane;
        for (int c = c0; c < c1; c++)
        {
            for (int n = 0; n < g.N; n++) new Span<float>(a->X + ((long)n * g.C + c) * g.H * g.W, g.H * g.W).Clear();
            for (int i = 0; i < g.KH; i++)
                for (int j = 0; j < g.KW; j++)
                {
                    float* row = a->Cols + ((long)(c * g.KH + i) * g.KW + j) * rowLength;
                    for (int n = 0; n < g.N; n++)
                    {
                        float* dst = a->X + ((long)n * g.C + c) * g.H * g.W;
                        float* src = row + (long)n * plane;
                        for (int oy = 0; oy < oh; oy++)
                        {
                            int y = oy * g.Stride - g.Padding + i;
                            if ((uint)y >= (uint)g.H) continue;
                            float* s = src + oy * ow;
                            float* d = dst + y * g.W;
                            for (int ox = 0; ox < ow; ox++)
                            {
                                int x = ox * g.Stride - g.Padding + j;
                                if ((uint)x < (uint)g.W) d[x] += s[ox];
                            }
                        }
                    }
                }
        }
    }
}
