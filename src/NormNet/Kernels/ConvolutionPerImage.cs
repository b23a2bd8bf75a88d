using System.Runtime.CompilerServices;
using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>
/// 2-D convolution as im2col plus one matrix product per image, forward and backward side by side, parallel over
/// images (each image's products run on one thread). The weight gradient sums over images in fixed groups whose
/// partial sums are added in group order, so results do not depend on the thread count.
/// </summary>
/// <remarks>The path <see cref="ConvolutionKernels"/> replaced (its products were too small to reach the SGEMM's speed);
/// kept as a second implementation for the tests and the benchmark's before/after rows. Cols here is (N, C*kh*kw, OH*OW).</remarks>
public static unsafe class ConvolutionPerImage
{
    /// <summary>Image groups of the weight-gradient reduction (fixed, so the summation order is too).</summary>
    public const int WeightGradientGroups = 16;

    private struct Args
    {
        public float* X, W, B, Y, Cols, Dy, Dx, DwParts, DbParts;
        public ConvGeometry G;
        public int Cout, ImagesPerGroup;
        public bool InputGradient;
    }

    // x: (N, C, H, W); w: (Cout, C*kh*kw); b: (Cout) or empty; cols: (N, C*kh*kw, OH*OW) written (kept for backward); y: (N, Cout, OH, OW)
    /// <summary>cols = im2col(x); y[n] = W cols[n] + b, per image.</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ConvGeometry g, int cout,
        Span<float> cols, Span<float> y)
    {
        Check(x.Length, w.Length, b.Length, cols.Length, y.Length, g, cout);
        fixed (float* px = x, pw = w, pb = b, pc = cols, py = y)
        {
            var a = new Args { X = px, W = pw, B = b.IsEmpty ? null : pb, Cols = pc, Y = py, G = g, Cout = cout };
            Parallelism.For(g.N, &a, &ForwardImage);
        }
    }

    // dy: (N, Cout, OH, OW); cols, w as in Forward; dx: (N, C, H, W) overwritten unless empty; dw: (Cout, C*kh*kw), db: (Cout) accumulated
    /// <summary>dW += sum_n dy[n] cols[n]^T; db += sum of dy over images and positions; dx[n] = col2im(W^T dy[n]).</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> cols, ReadOnlySpan<float> w, ConvGeometry g, int cout,
        Span<float> dx, Span<float> dw, Span<float> db)
    {
        int k = g.PatchSize, groups = Math.Min(g.N, WeightGradientGroups);
        Check(dx.IsEmpty ? (int)((long)g.N * g.C * g.H * g.W) : dx.Length, w.Length, db.Length, cols.Length, dy.Length, g, cout);
        if (dw.Length != cout * k) throw new ArgumentException($"Conv backward: dW has {dw.Length} elements, expected {cout * k}.");
        float[] parts = ThreadScratch.Get(ref _parts, groups * (cout * k + cout));
        fixed (float* pdy = dy, pc = cols, pw = w, pdx = dx, pp = parts)
        {
            var a = new Args
            {
                Dy = pdy, Cols = pc, W = pw, Dx = pdx, DwParts = pp, DbParts = pp + groups * cout * k, G = g, Cout = cout,
                ImagesPerGroup = (g.N + groups - 1) / groups, InputGradient = !dx.IsEmpty,
            };
            Parallelism.For(groups, &a, &BackwardGroup);
            // merge the groups' partial sums in group order
            for (int p = 0; p < groups; p++)
            {
                var part = new ReadOnlySpan<float>(a.DwParts + (long)p * cout * k, cout * k);
                for (int i = 0; i < dw.Length; i++) dw[i] += part[i];
                if (!db.IsEmpty)
                    for (int o = 0; o < cout; o++) db[o] += a.DbParts[p * cout + o];
            }
        }
    }

    private static void Check(int x, int w, int b, int cols, int y, ConvGeometry g, int cout)
    {
        long xs = (long)g.N * g.C * g.H * g.W, ws = (long)cout * g.PatchSize, cs = (long)g.N * g.PatchSize * g.OutPlane, ys = (long)g.N * cout * g.OutPlane;
        if (x != xs || w != ws || (b != 0 && b != cout) || cols != cs || y != ys)
            throw new ArgumentException($"Convolution {g} with {cout} outputs: sizes x {x} (expected {xs}), w {w} ({ws}), b {b} ({cout} or 0), cols {cols} ({cs}), y {y} ({ys}).");
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardImage(void* state, int n)
    {
        var a = (Args*)state;
        var g = a->G;
        int k = g.PatchSize, p = g.OutPlane, cout = a->Cout;
        float* cols = a->Cols + (long)n * k * p, y = a->Y + (long)n * cout * p;
        Im2Col.UnfoldImage(a->X + (long)n * g.C * g.H * g.W, g, cols, p);
        if (a->B != null)
            for (int o = 0; o < cout; o++) new Span<float>(y + (long)o * p, p).Fill(a->B[o]);
        // y[n] (Cout x P) = W (Cout x K) cols[n] (K x P) (+ bias already in y)
        Gemm.Sgemm(false, false, cout, p, k, 1f, new ReadOnlySpan<float>(a->W, cout * k), k,
            new ReadOnlySpan<float>(cols, k * p), p, a->B == null ? 0f : 1f, new Span<float>(y, cout * p), p);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardGroup(void* state, int group)
    {
        var a = (Args*)state;
        var g = a->G;
        int k = g.PatchSize, p = g.OutPlane, cout = a->Cout;
        int n0 = group * a->ImagesPerGroup, n1 = Math.Min(g.N, n0 + a->ImagesPerGroup);
        var dw = new Span<float>(a->DwParts + (long)group * cout * k, cout * k);
        float* db = a->DbParts + group * cout;
        dw.Clear();
        new Span<float>(db, cout).Clear();
        float[]? scratch = a->InputGradient ? ThreadScratch.Get(ref _scratch, k * p) : null;
        for (int n = n0; n < n1; n++)
        {
            float* dy = a->Dy + (long)n * cout * p, cols = a->Cols + (long)n * k * p;
            // dW_group += dy[n] (Cout x P) cols[n]^T (P x K)
            Gemm.Sgemm(false, true, cout, k, p, 1f, new ReadOnlySpan<float>(dy, cout * p), p, new ReadOnlySpan<float>(cols, k * p), p, 1f, dw, k);
            for (int o = 0; o < cout; o++)
            {
                float s = 0;
                for (int i = 0; i < p; i++) s += dy[(long)o * p + i];
                db[o] += s;
            }
            if (scratch is null) continue;
            // dcols = W^T (K x Cout) dy[n] (Cout x P); dx[n] = col2im(dcols)
            Gemm.Sgemm(true, false, k, p, cout, 1f, new ReadOnlySpan<float>(a->W, cout * k), k, new ReadOnlySpan<float>(dy, cout * p), p, 0f, scratch.AsSpan(0, k * p), p);
            fixed (float* pd = scratch) Im2Col.FoldImage(pd, p, g, a->Dx + (long)n * g.C * g.H * g.W);
        }
    }

    [ThreadStatic] private static float[]? _scratch, _parts;
}
