using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>
/// 2-D convolution as im2col plus matrix products, forward and backward side by side. Images go in chunks of a
/// fixed number (set by the geometry alone, so that a chunk's im2col block fits L2) whose columns lie side by side,
/// (C*kh*kw, images*OH*OW): the weight gradient is one product per chunk with K = images*pixels and the input
/// gradient one product per chunk followed by col2im; the forward stays one product per image, written straight into y.
/// </summary>
/// <remarks>
/// <para>Chunks run in parallel, one per worker, each product on its worker alone; a convolution too small to pay
/// for waking a worker runs on the calling thread. The weight gradient sums chunks in fixed groups whose partial
/// sums are added in group order; chunks and groups depend on the geometry and the batch only, so results are
/// bit-identical for any thread count.</para>
/// <para>Cols (kept from forward for backward) is the chunks one after another: chunk j is a (C*kh*kw, cnt*OH*OW)
/// matrix, cnt = its images. <see cref="ConvolutionPerImage"/> is the one-product-per-image path this replaced and
/// <see cref="LayerReference.Conv2dForward"/> the plain reference.</para>
/// </remarks>
public static unsafe class ConvolutionKernels
{
    /// <summary>Most groups of chunks in the weight-gradient reduction (fixed, so the summation order is too).</summary>
    public const int WeightGradientGroups = 16;
    /// <summary>Floats of one chunk's largest block (its im2col block, its output or its gradient): 128 K floats, 512 KiB,
    /// half of one core's L2 (measured on the cnn's layers at batch 128, 1 thread, CPU time: 256 K floats made the forward
    /// and the input gradient 20-25% slower than one image at a time, the blocks no longer staying in L2).</summary>
    internal const int ChunkFloats = 128 * 1024;
    /// <summary>One image's products are large enough alone from this many patch rows on (measured, cnn batch 128: the
    /// 1-channel 3x3 convolution, 9 rows, got its weight gradient 1.8-2x faster in chunks of 5 images; the 32-channel one,
    /// 288 rows and 196 pixels, gained nothing in backward and lost 10-15% in forward, its B panel rows twice as far apart).</summary>
    private const int AlonePatch = 32;
    /// <summary>Below this many flops (~100 us of work, as <see cref="GemmDriver"/>'s threshold) the chunks run inline.</summary>
    private const double InlineFlops = 2e7;

    private struct Args
    {
        public float* X, W, B, Y, Cols, Dy, Dx, DwParts, DbParts;
        public ConvGeometry G;
        public int Cout, Images, Chunks, ChunksPerGroup;
        public bool InputGradient;
        public FusedActivation Activation;
    }

    /// <summary>Images per chunk for this geometry and output channel count (never depends on the thread count).</summary>
    public static int ImagesPerChunk(ConvGeometry g, int cout)
    {
        if (g.PatchSize >= AlonePatch) return 1;
        long perImage = (long)Math.Max(g.PatchSize, cout) * g.OutPlane;
        return (int)Math.Clamp(ChunkFloats / Math.Max(1, perImage), 1, Math.Max(1, g.N));
    }

    // x: (N, C, H, W); w: (Cout, C*kh*kw); b: (Cout) or empty; cols: chunks of (C*kh*kw, cnt*OH*OW) written (kept for backward); y: (N, Cout, OH, OW)
    /// <summary>cols = im2col(x) per chunk; y[n] = f(W cols[n] + b) per image, f the <paramref name="activation"/> (applied to
    /// each image's output right after its product, while that is in cache).</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ConvGeometry g, int cout,
        Span<float> cols, Span<float> y, FusedActivation activation = FusedActivation.None)
    {
        Check(x.Length, w.Length, b.Length, cols.Length, y.Length, g, cout);
        if (g.N == 0) return;
        fixed (float* px = x, pw = w, pb = b, pc = cols, py = y)
        {
            var a = new Args { X = px, W = pw, B = b.IsEmpty ? null : pb, Cols = pc, Y = py, G = g, Cout = cout, Activation = activation };
            Plan(ref a);
            Run(&a, a.Chunks, &ForwardChunk);
        }
    }

    // dy: (N, Cout, OH, OW); cols, w as in Forward; dx: (N, C, H, W) overwritten unless empty; dw: (Cout, C*kh*kw), db: (Cout) accumulated
    /// <summary>dW += sum over chunks of dy[chunk] cols[chunk]^T; db += sum of dy; dx[chunk] = col2im(W^T dy[chunk]).</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> cols, ReadOnlySpan<float> w, ConvGeometry g, int cout,
        Span<float> dx, Span<float> dw, Span<float> db)
    {
        int k = g.PatchSize;
        Check(dx.IsEmpty ? (int)((long)g.N * g.C * g.H * g.W) : dx.Length, w.Length, db.Length, cols.Length, dy.Length, g, cout);
        if (dw.Length != cout * k) throw new ArgumentException($"Conv backward: dW has {dw.Length} elements, expected {cout * k}.");
        if (g.N == 0) return;
        var a = new Args { G = g, Cout = cout, InputGradient = !dx.IsEmpty };
        Plan(ref a);
        int groups = (a.Chunks + a.ChunksPerGroup - 1) / a.ChunksPerGroup;
        float[] parts = ThreadScratch.Get(ref t_parts, groups * (cout * k + cout));
        fixed (float* pdy = dy, pc = cols, pw = w, pdx = dx, pp = parts)
        {
            a.Dy = pdy; a.Cols = pc; a.W = pw; a.Dx = pdx; a.DwParts = pp; a.DbParts = pp + (long)groups * cout * k;
            Run(&a, groups, &BackwardGroup);
            Merge(&a, groups, dw, db);
        }
    }

    // dy: (N, Cout, OH, OW); x: (N, C, H, W); dw: (Cout, C*kh*kw), db: (Cout) or empty, accumulated
    /// <summary>dW += sum over chunks of dy[chunk] im2col(x[chunk])^T; db += sum of dy: <see cref="Backward"/>'s weight gradient
    /// with each chunk's columns unfolded here, into an L2-sized scratch, instead of kept from the forward (for a forward
    /// that ran without them, <see cref="DirectConvolution"/>). The same chunks, groups and summation order.</summary>
    public static void WeightGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ConvGeometry g, int cout, Span<float> dw, Span<float> db) =>
        BackwardFromInput(dy, x, default, g, cout, default, dw, db);

    // dy: (N, Cout, OH, OW); x: (N, C, H, W); w: (Cout, C*kh*kw), or empty without dx; dx: (N, C, H, W) overwritten unless empty; dw, db as in WeightGradient
    /// <summary><see cref="WeightGradient"/>, and unless <paramref name="dx"/> is empty dx[chunk] = col2im(W^T dy[chunk]) as
    /// <see cref="Backward"/> computes it (the same bits): the whole backward of a forward that kept no columns.</summary>
    public static void BackwardFromInput(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> w, ConvGeometry g, int cout,
        Span<float> dx, Span<float> dw, Span<float> db)
    {
        int k = g.PatchSize;
        long xs = (long)g.N * g.C * g.H * g.W, ys = (long)g.N * cout * g.OutPlane;
        if (x.Length != xs || dy.Length != ys || dw.Length != cout * k || (db.Length != 0 && db.Length != cout))
            throw new ArgumentException($"Conv weight gradient {g} with {cout} outputs: sizes x {x.Length} (expected {xs}), dy {dy.Length} ({ys}), dW {dw.Length} ({cout * k}), db {db.Length} ({cout} or 0).");
        if (!dx.IsEmpty && (dx.Length != xs || w.Length != cout * k))
            throw new ArgumentException($"Conv input gradient {g} with {cout} outputs: sizes dx {dx.Length} (expected {xs}), w {w.Length} ({cout * k}).");
        if (g.N == 0) return;
        var a = new Args { G = g, Cout = cout, InputGradient = !dx.IsEmpty };
        Plan(ref a);
        int groups = (a.Chunks + a.ChunksPerGroup - 1) / a.ChunksPerGroup;
        float[] parts = ThreadScratch.Get(ref t_parts, groups * (cout * k + cout));
        fixed (float* pdy = dy, px = x, pw = w, pdx = dx, pp = parts)
        {
            a.Dy = pdy; a.X = px; a.W = pw; a.Dx = pdx; a.DwParts = pp; a.DbParts = pp + (long)groups * cout * k;
            Run(&a, groups, &BackwardGroup);
            Merge(&a, groups, dw, db);
        }
    }

    // the groups' partial sums -> dw, db (+=), in group order
    private static void Merge(Args* a, int groups, Span<float> dw, Span<float> db) => AddGroupSums(a->DwParts, a->DbParts, groups, a->Cout, dw, db);

    // dwParts: (groups, dw.Length); dbParts: (groups, cout) -> dw, db (+=; db skipped when empty)
    /// <summary>Adds each group's partial weight and bias gradients in group order (a fixed order, so the sums do not
    /// depend on which worker computed which group); shared with the direct weight gradient.</summary>
    internal static void AddGroupSums(float* dwParts, float* dbParts, int groups, int cout, Span<float> dw, Span<float> db)
    {
        for (int p = 0; p < groups; p++)
        {
            var part = new ReadOnlySpan<float>(dwParts + (long)p * dw.Length, dw.Length);
            for (int i = 0; i < dw.Length; i++) dw[i] += part[i];
            if (!db.IsEmpty)
                for (int o = 0; o < cout; o++) db[o] += dbParts[p * cout + o];
        }
    }

    private static void Plan(ref Args a)
    {
        a.Images = ImagesPerChunk(a.G, a.Cout);
        a.Chunks = (a.G.N + a.Images - 1) / a.Images;
        a.ChunksPerGroup = (a.Chunks + WeightGradientGroups - 1) / WeightGradientGroups;
    }

    /// <summary>Runs body over [0, count) on the workers, or inline when the whole convolution is too small to split.</summary>
    private static void Run(Args* a, int count, delegate*<void*, int, void> body)
    {
        var g = a->G;
        double flops = 2.0 * a->Cout * g.PatchSize * g.OutPlane * g.N;
        if (count == 1 || flops < InlineFlops)
            for (int i = 0; i < count; i++) body(a, i);
        else Parallelism.For(count, a, body);
    }

    private static void Check(int x, int w, int b, int cols, int y, ConvGeometry g, int cout)
    {
        long xs = (long)g.N * g.C * g.H * g.W, ws = (long)cout * g.PatchSize, cs = (long)g.N * g.PatchSize * g.OutPlane, ys = (long)g.N * cout * g.OutPlane;
        if (x != xs || w != ws || (b != 0 && b != cout) || cols != cs || y != ys)
            throw new ArgumentException($"Convolution {g} with {cout} outputs: sizes x {x} (expected {xs}), w {w} ({ws}), b {b} ({cout} or 0), cols {cols} ({cs}), y {y} ({ys}).");
    }

    /// <summary>Chunk j's first image, image count and columns block (C*kh*kw x cnt*OH*OW).</summary>
    private static float* ChunkOf(Args* a, int chunk, out int first, out int count)
    {
        var g = a->G;
        first = chunk * a->Images;
        count = Math.Min(a->Images, g.N - first);
        return a->Cols + (long)first * g.PatchSize * g.OutPlane;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardChunk(void* state, int chunk)
    {
        var a = (Args*)state;
        var g = a->G;
        int k = g.PatchSize, p = g.OutPlane, cout = a->Cout;
        float* cols = ChunkOf(a, chunk, out int first, out int count);
        int n = count * p;
        // y[first + i] (Cout x P) = b + W (Cout x K) cols[:, i*P ..] (K x P, rows cnt*P apart): one product per image,
        // straight into y, each right after its im2col while that is in L1/L2 (measured, 1 thread, cnn batch 128: one
        // product over the chunk plus a copy to (N, Cout, P) was 20-25% slower; the chunk pays off in the backward only)
        for (int i = 0; i < count; i++)
        {
            Im2Col.UnfoldImage(a->X + (long)(first + i) * g.C * g.H * g.W, g, cols + (long)i * p, n);
            ForwardImage(a, cols + (long)i * p, n, a->Y + (long)(first + i) * cout * p);
        }
    }

    // cols: (K, P) of one image, rows ld apart -> y: (Cout, P) of that image
    /// <summary>y = b, then y += W cols, then y = f(y).</summary>
    private static void ForwardImage(Args* a, float* cols, int ld, float* y)
    {
        int k = a->G.PatchSize, p = a->G.OutPlane, cout = a->Cout;
        if (a->B != null)
            for (int o = 0; o < cout; o++) new Span<float>(y + (long)o * p, p).Fill(a->B[o]);
        Gemm.Sgemm(false, false, cout, p, k, 1f, new ReadOnlySpan<float>(a->W, cout * k), k,
            new ReadOnlySpan<float>(cols, (k - 1) * ld + p), ld, a->B == null ? 0f : 1f, new Span<float>(y, cout * p), p);
        if (a->Activation == FusedActivation.Relu) Activations.ForwardInline(Activations.Kind.Relu, y, y, (long)cout * p);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardGroup(void* state, int group)
    {
        var a = (Args*)state;
        var g = a->G;
        int k = g.PatchSize, p = g.OutPlane, cout = a->Cout;
        var dw = new Span<float>(a->DwParts + (long)group * cout * k, cout * k);
        float* db = a->DbParts + group * cout;
        new Span<float>(db, cout).Clear();
        int c0 = group * a->ChunksPerGroup, c1 = Math.Min(a->Chunks, c0 + a->ChunksPerGroup);
        for (int chunk = c0; chunk < c1; chunk++)
        {
            float* cols = ChunkOf(a, chunk, out int first, out int count);
            int n = count * p;
            if (a->Cols == null)
            {
                // no columns from the forward: unfold this chunk's images now, while they are used
                // the scratch is on the pinned heap, so its address stays valid after this block
                cols = (float*)Unsafe.AsPointer(ref ThreadScratch.Get(ref t_cols, k * n)[0]);
                for (int i = 0; i < count; i++) Im2Col.UnfoldImage(a->X + (long)(first + i) * g.C * g.H * g.W, g, cols + (long)i * p, n);
            }
            // dyc (Cout x cnt*P) = dy[first .. first+cnt] side by side; db += its row sums
            float[] dyBuffer = ThreadScratch.Get(ref t_out, cout * n);
            fixed (float* dyc = dyBuffer)
            {
                for (int i = 0; i < count; i++)
                    for (int c = 0; c < cout; c++)
                        db[c] += CopySum(a->Dy + ((long)(first + i) * cout + c) * p, dyc + (long)c * n + (long)i * p, p);
            }
            var dyc2 = new ReadOnlySpan<float>(dyBuffer, 0, cout * n);
            // dW_group (+)= dyc (Cout x cnt*P) cols^T (cnt*P x K)
            Gemm.Sgemm(false, true, cout, k, n, 1f, dyc2, n, new ReadOnlySpan<float>(cols, k * n), n, chunk == c0 ? 0f : 1f, dw, k);
            if (!a->InputGradient) continue;
            // dcols (K x cnt*P) = W^T (K x Cout) dyc (Cout x cnt*P); dx[first + i] = col2im(dcols[:, i*P ..])
            float[] dcols = ThreadScratch.Get(ref t_dcols, k * n);
            Gemm.Sgemm(true, false, k, n, cout, 1f, new ReadOnlySpan<float>(a->W, cout * k), k, dyc2, n, 0f, dcols.AsSpan(0, k * n), n);
            fixed (float* pd = dcols)
                for (int i = 0; i < count; i++)
                    Im2Col.FoldImage(pd + (long)i * p, n, g, a->Dx + (long)(first + i) * g.C * g.H * g.W);
        }
    }

    // src, dst: (p)
    /// <summary>dst[j] = src[j]; returns sum_j src[j] (in float, in a fixed order: 8 lanes, then the lanes and the tail).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float CopySum(float* src, float* dst, int p)
    {
        int j = 0;
        var acc = Vector256<float>.Zero;
        for (; j <= p - 8; j += 8)
        {
            var v = Vector256.Load(src + j);
            Vector256.Store(v, dst + j);
            acc += v;
        }
        float s = Vector256.Sum(acc);
        for (; j < p; j++) s += dst[j] = src[j];
        return s;
    }

    [ThreadStatic] private static float[]? t_out, t_dcols, t_parts, t_cols;
}
