using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>
/// Unfolds image patches into matrix columns (im2col) so a convolution becomes a matrix product, and folds column
/// gradients back (col2im). Per image, cols is (C*kh*kw, OutH*OutW): row (c, i, j) holds input pixel
/// (c, oy*s - p + i, ox*s - p + j) of every output position (oy, ox), zero outside the image. For a batch the
/// images' blocks follow each other: cols is (N, C*kh*kw, OutH*OutW).
/// </summary>
public static unsafe class Im2Col
{
    private struct Args
    {
        public float* X, Cols;
        public ConvGeometry G;
    }

    // x: (N, C, H, W) -> cols: (N, C*kh*kw, OH*OW)
    /// <summary>cols[n, (c*kh + i)*kw + j, oy*OW + ox] = x[n, c, oy*s - p + i, ox*s - p + j] (or 0), in parallel over images.</summary>
    public static void Unfold(ReadOnlySpan<float> x, ConvGeometry g, Span<float> cols)
    {
        Check(x.Length, cols.Length, g);
        fixed (float* px = x, pc = cols)
        {
            var a = new Args { X = px, Cols = pc, G = g };
            Parallelism.For(g.N, &a, &UnfoldChunk);
        }
    }

    // cols: (N, C*kh*kw, OH*OW) -> dx: (N, C, H, W), overwritten
    /// <summary>dx[n, c, y, x] = sum of the column entries that read that pixel (the adjoint of <see cref="Unfold"/>).</summary>
    public static void Fold(ReadOnlySpan<float> cols, ConvGeometry g, Span<float> dx)
    {
        Check(dx.Length, cols.Length, g);
        fixed (float* px = dx, pc = cols)
        {
            var a = new Args { X = px, Cols = pc, G = g };
            Parallelism.For(g.N, &a, &FoldChunk);
        }
    }

    private static void Check(int xLength, int colsLength, ConvGeometry g)
    {
        long x = (long)g.N * g.C * g.H * g.W, cols = (long)g.PatchSize * g.N * g.OutPlane;
        if (xLength != x || colsLength != cols)
            throw new ArgumentException($"Im2Col: image has {xLength} elements (expected {x}), columns {colsLength} (expected {cols}) for {g}.");
    }

    private static void UnfoldChunk(void* state, int n)
    {
        var a = (Args*)state;
        var g = a->G;
        UnfoldImage(a->X + (long)n * g.C * g.H * g.W, g, a->Cols + (long)n * g.PatchSize * g.OutPlane, g.OutPlane);
    }

    private static void FoldChunk(void* state, int n)
    {
        var a = (Args*)state;
        var g = a->G;
        FoldImage(a->Cols + (long)n * g.PatchSize * g.OutPlane, g.OutPlane, g, a->X + (long)n * g.C * g.H * g.W);
    }

    /// <summary>The output columns [ox0, ox1) whose input column ox*s - p + j lies inside the image.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int First, int End) ValidColumns(ConvGeometry g, int j)
    {
        int first = Math.Max(0, (g.Padding - j + g.Stride - 1) / g.Stride);
        int end = Math.Min(g.OutW, (g.W + g.Padding - j + g.Stride - 1) / g.Stride);
        return (first, Math.Max(first, end));
    }

    // x: (C, H, W) of one image -> cols: (C*kh*kw, OH*OW), rows ld apart (ld >= OH*OW: several images side by side)
    /// <summary>im2col of one image; stride-1 rows are contiguous copies with zeroed borders.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void UnfoldImage(float* x, ConvGeometry g, float* cols, long ld)
    {
        int oh = g.OutH, ow = g.OutW;
        for (int c = 0; c < g.C; c++)
            for (int i = 0; i < g.KH; i++)
                for (int j = 0; j < g.KW; j++)
                {
                    float* row = cols + ((c * g.KH + i) * g.KW + j) * ld;
                    var (first, end) = ValidColumns(g, j);
                    for (int oy = 0; oy < oh; oy++)
                    {
                        int y = oy * g.Stride - g.Padding + i;
                        float* d = row + oy * ow;
                        if ((uint)y >= (uint)g.H || first >= end)
                        {
                            new Span<float>(d, ow).Clear();
                            continue;
                        }
                        float* s = x + ((long)c * g.H + y) * g.W;
                        for (int ox = 0; ox < first; ox++) d[ox] = 0;
                        if (g.Stride == 1)
                            new ReadOnlySpan<float>(s + first - g.Padding + j, end - first).CopyTo(new Span<float>(d + first, end - first));
                        else if (g.Stride == 2)
                        {
                            // the row's every other pixel from its first valid one, four per shuffle (measured, the weight gradient of the
                            // resnet's 16-to-32 3x3 stride-2 convolution at batch 128, alternating builds: 7.7-8.0 -> 4.3-5.2 ms on 2 threads)
                            int at = 2 * first - g.Padding + j;
                            Shuffles.TakeEven(s + at, g.W - at, end - first, d + first);
                        }
                        else
                            for (int ox = first; ox < end; ox++) d[ox] = s[ox * g.Stride - g.Padding + j];
                        for (int ox = end; ox < ow; ox++) d[ox] = 0;
                    }
                }
    }

    // cols: (C*kh*kw, OH*OW) of one image, rows ld apart -> dx: (C, H, W), overwritten
    /// <summary>col2im of one image: every column entry is added back to the pixel it was read from.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FoldImage(float* cols, long ld, ConvGeometry g, float* dx)
    {
        int oh = g.OutH, ow = g.OutW;
        new Span<float>(dx, g.C * g.H * g.W).Clear();
        for (int c = 0; c < g.C; c++)
            for (int i = 0; i < g.KH; i++)
                for (int j = 0; j < g.KW; j++)
                {
                    float* row = cols + ((c * g.KH + i) * g.KW + j) * ld;
                    var (first, end) = ValidColumns(g, j);
                    if (first >= end) continue;
                    for (int oy = 0; oy < oh; oy++)
                    {
                        int y = oy * g.Stride - g.Padding + i;
                        if ((uint)y >= (uint)g.H) continue;
                        float* s = row + oy * ow;
                        float* d = dx + ((long)c * g.H + y) * g.W;
                        // dx[y, ox*s - p + j] += cols[.., oy*OW + ox]
                        if (g.Stride == 1) AddInPlace(d + first - g.Padding + j, s + first, end - first);
                        else if (g.Stride == 2)
                        {
                            // into every other pixel, four per shuffle (each pixel's additions in the same order as one at a time)
                            int at = 2 * first - g.Padding + j;
                            Shuffles.AddToEven(d + at, g.W - at, s + first, end - first);
                        }
                        else for (int ox = first; ox < end; ox++) d[ox * g.Stride - g.Padding + j] += s[ox];
                    }
                }
    }

    /// <summary>d[k] += s[k].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddInPlace(float* d, float* s, int n)
    {
        int k = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; k <= n - 8; k += 8) Vector256.Store(Vector256.Load(d + k) + Vector256.Load(s + k), d + k);
        if (Vector128.IsHardwareAccelerated)
            for (; k <= n - 4; k += 4) Vector128.Store(Vector128.Load(d + k) + Vector128.Load(s + k), d + k);
        for (; k < n; k++) d[k] += s[k];
    }
}
