using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>
/// The forward of a 1x1 convolution without padding, at any stride, as one product per image read in place:
/// y[n, o, q] = f(sum over c of w[o, c] xs[n, c, q] + b[o] (+ r[n, o, q])), where xs is the input at the stride (the image
/// itself at stride 1; at stride s its every s-th row and column, copied into a scratch of C x OH*OW).
/// </summary>
/// <remarks>
/// <para>Im2col plus the matrix product computed the same: the columns of a 1x1 convolution are xs itself, and the product
/// packed them into panels on every call, a pass as long as its K = C steps over them (16 and 32 for the resnet's
/// projection shortcuts). Here a register tile of 4 output channels by up to 4 vectors of consecutive positions reads xs
/// where it lies, broadcasts the weights from a panel packed 4 channels wide, and stores its outputs straight into y with
/// the bias, the addend and the activation: no packing of x, no epilogue pass. The positions after the last whole vector of
/// an image go through the same tile from a zero-padded copy, their outputs stored through a scratch vector.</para>
/// <para>Every output element is one FMA chain over c in order, then + bias, then + addend, then the activation: the same
/// bits for any thread count, batch split or tile, and those of im2col plus products wherever the product's K blocks hold
/// all C channels (<see cref="GemmDriver"/>). Images run in parallel as <see cref="DirectConvolution"/>'s do (fewer images
/// than workers: each image's channel blocks split among them, from ~100 us of work); a convolution under ~100 us of work
/// runs on the calling thread. <see cref="LayerReference.Conv2dForward"/> is the plain reference.</para>
/// </remarks>
public static unsafe class PointwiseConvolution
{
    /// <summary>Output channels per register tile (the packed weight panel's width).</summary>
    private const int Rows = DirectConvolution.Rows;
    private const double InlineFlops = 2e7;
    /// <summary>As <see cref="DirectConvolution"/>'s: from ~100 us of work an image too few to give every worker one has its
    /// channel blocks split among them.</summary>
    private const double SplitFlops = 2e7;

    private struct Args
    {
        public float* X, W, B, Addend, Y;
        public ConvGeometry G;
        public int Cout, BlockGroups;
        public SimdWidth Width;
        public FusedActivation Activation;
    }

    /// <summary>Whether this geometry runs here: a 1x1 kernel without padding, any stride.</summary>
    public static bool Supports(ConvGeometry g) => g.KH == 1 && g.KW == 1 && g.Padding == 0;

    // x: (N, C, H, W); w: (Cout, C, 1, 1); b: (Cout) or empty; addend: (N, Cout, OH, OW) or empty; y: (N, Cout, OH, OW), overwritten
    /// <summary>y = f(conv(x) + b + r): the 1x1 convolution, <paramref name="addend"/> (if not empty) added after the bias and
    /// before the activation, with the bits of the three steps one after another.</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ReadOnlySpan<float> addend, ConvGeometry g, int cout,
        Span<float> y, FusedActivation activation = FusedActivation.None) =>
        Forward(x, w, b, addend, g, cout, y, SimdDispatch.Widest, activation);

    /// <summary><see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, FusedActivation)"/>
    /// at a chosen vector width (tests run every width the machine supports), reading the weights from <paramref name="prepacked"/>
    /// (packed from w once) when given instead of packing w.</summary>
    internal static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ReadOnlySpan<float> addend, ConvGeometry g, int cout,
        Span<float> y, SimdWidth width, FusedActivation activation = FusedActivation.None, PackedConvolutionWeights? prepacked = null)
    {
        Check(g, cout, x.Length, w.Length, b.Length, addend.Length, y.Length);
        if (g.N == 0) return;
        // w: (Cout, C) -> panels of 4 output channels: packed[(ob * C + c) * 4 + r] = w[ob * 4 + r, c] (0 past Cout)
        float[] packed = prepacked?.For("Pointwise convolution", g, cout).Panels(Rows) ?? DirectConvolution.PackForward(w, g.C, cout, 1, Rows);
        fixed (float* px = x, pw = packed, pb = b, pr = addend, py = y)
        {
            var a = new Args { X = px, W = pw, B = b.IsEmpty ? null : pb, Addend = addend.IsEmpty ? null : pr, Y = py, G = g, Cout = cout, Width = width,
                Activation = activation };
            Run(&a);
        }
    }

    private static void Check(ConvGeometry g, int cout, int x, int w, int b, int addend, int y)
    {
        if (!Supports(g)) throw new ArgumentException($"Pointwise convolution needs a 1x1 kernel without padding, got {g}.");
        long xs = (long)g.N * g.C * g.H * g.W, ws = (long)cout * g.C, ys = (long)g.N * cout * g.OutPlane;
        if (x != xs || w != ws || (b != 0 && b != cout) || (addend != 0 && addend != ys) || y != ys)
            throw new ArgumentException($"Pointwise convolution {g} with {cout} outputs: sizes x {x} (expected {xs}), w {w} ({ws}), b {b} ({cout} or 0), " +
                $"addend {addend} ({ys} or 0), y {y} ({ys}).");
    }

    /// <summary>Runs every image, each image's channel blocks in BlockGroups chunks (one unless there are fewer images than
    /// workers), on the workers, or on the calling thread when the work is too small to split. Each output element is
    /// computed alone, so the split changes no bits.</summary>
    private static void Run(Args* a)
    {
        var g = a->G;
        double flops = 2.0 * a->Cout * g.C * g.OutPlane * g.N;
        int threads = ComputeSettings.Current.MaxThreads, blocks = (a->Cout + Rows - 1) / Rows;
        a->BlockGroups = g.N >= threads || flops < SplitFlops ? 1 : Math.Min(blocks, (threads + g.N - 1) / g.N);
        int chunks = g.N * a->BlockGroups;
        if (chunks == 1 || (a->BlockGroups == 1 && flops < InlineFlops))
            for (int i = 0; i < chunks; i++) Chunk(a, i);
        else Parallelism.For(chunks, a, &Chunk);
    }

    /// <summary>Chunk i: image i / BlockGroups, its channel blocks of group i % BlockGroups.</summary>
    private static void Chunk(void* state, int i)
    {
        var a = (Args*)state;
        int n = i / a->BlockGroups, group = i % a->BlockGroups, blocks = (a->Cout + Rows - 1) / Rows;
        SimdDispatch.Run(a->Width, new ImageOp(a, n, group * blocks / a->BlockGroups, (group + 1) * blocks / a->BlockGroups));
    }

    private readonly struct ImageOp(Args* a, int n, int firstBlock, int endBlock) : ISimdOperation
    {
        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct
        {
            if (a->Activation == FusedActivation.Relu) Image<TS, TV, ReluActivation>(a, n, firstBlock, endBlock);
            else Image<TS, TV, NoActivation>(a, n, firstBlock, endBlock);
        }
    }

    /// <summary>Image n's channel blocks [firstBlock, endBlock): xs read where it lies (x itself, at stride 1 with whole
    /// vectors of positions), else from a scratch holding each channel's subsampled (or copied) positions in a row padded
    /// with zeros to whole vectors; tiles of 4, 2 and 1 vectors over a row, the last vector's outputs stored up to the
    /// image's positions only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image<TS, TV, TA>(Args* a, int n, int firstBlock, int endBlock) where TS : ISimd<TV> where TV : struct where TA : IFusedActivation
    {
        var g = a->G;
        int c = g.C, p = g.OutPlane, width = TS.Width, ld = (p + width - 1) / width * width;
        long image = (long)n * a->Cout * p;
        var output = new Output(a->Y + image, a->Addend == null ? null : a->Addend + image, a->B, p, a->Cout);
        float* x = a->X + (long)n * c * g.H * g.W;
        bool inPlace = g.Stride == 1 && ld == p;
        float[] xsBuffer = ThreadScratch.Get(ref t_input, inPlace ? 0 : c * ld);
        fixed (float* scratch = xsBuffer)
        {
            float* xs = inPlace ? x : scratch, acc = stackalloc float[4 * Rows * width];
            if (!inPlace) Subsample(x, g, xs, ld);
            for (int q0 = 0; q0 < ld;)
            {
                int v = ld - q0 >= 4 * width ? 4 : ld - q0 >= 2 * width ? 2 : 1, valid = Math.Min(v * width, p - q0);
                for (int ob = firstBlock; ob < endBlock; ob++)
                {
                    float* w = a->W + (long)ob * c * Rows;
                    if (v == 4) Tile<TS, TV, TA, V4>(xs + q0, ld, c, w, output, ob * Rows, q0, valid, acc);
                    else if (v == 2) Tile<TS, TV, TA, V2>(xs + q0, ld, c, w, output, ob * Rows, q0, valid, acc);
                    else Tile<TS, TV, TA, V1>(xs + q0, ld, c, w, output, ob * Rows, q0, valid, acc);
                }
                q0 += v * width;
            }
        }
    }

    // x: (C, H, W) -> xs: (C, ld), xs[c, i * OW + j] = x[c, s*i, s*j] for i < OH, j < OW; xs[c, OH * OW ..] = 0
    private static void Subsample(float* x, ConvGeometry g, float* xs, int ld)
    {
        int s = g.Stride, oh = g.OutH, ow = g.OutW, p = g.OutPlane;
        bool rowVectors = s == 2 && g.W <= 32 && Avx512F.IsSupported;
        for (int c = 0; c < g.C; c++)
        {
            float* plane = x + (long)c * g.H * g.W, row = xs + (long)c * ld;
            if (s == 1) new ReadOnlySpan<float>(plane, p).CopyTo(new Span<float>(row, p));
            else if (rowVectors) EvenRows(plane, g.W, oh, ow, row);
            else
                for (int i = 0; i < oh; i++)
                {
                    float* src = plane + (long)s * i * g.W, dst = row + i * ow;
                    if (s == 2) Shuffles.TakeEven(src, g.W, ow, dst);
                    else
                        for (int j = 0; j < ow; j++) dst[j] = src[j * s];
                }
            new Span<float>(row + p, ld - p).Clear();
        }
    }

    // plane: (H, w), w <= 32 -> dst: (oh, ow), dst[i, j] = plane[2i, 2j]
    /// <summary>Stride-2 subsampling of a plane whose rows fit two 16-wide vectors: each output row is one two-source
    /// permute of its input row (the second load masked to the row), stored masked to its ow columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void EvenRows(float* plane, int w, int oh, int ow, float* dst)
    {
        var even = Shuffles.EvenOf32;
        Vector512<float> first = Shuffles.FirstLanes(Math.Min(w, 16)), second = Shuffles.FirstLanes(w - 16), columns = Shuffles.FirstLanes(ow);
        for (int i = 0; i < oh; i++, dst += ow)
        {
            float* src = plane + (long)2 * i * w;
            var lo = Avx512F.MaskLoad(src, first, Vector512<float>.Zero);
            var hi = w > 16 ? Avx512F.MaskLoad(src + 16, second, Vector512<float>.Zero) : Vector512<float>.Zero;
            Avx512F.MaskStore(dst, columns, Avx512F.PermuteVar16x32x2(lo, even, hi));
        }
    }

    /// <summary>How many vectors of consecutive positions a tile covers.</summary>
    private interface IVectors
    {
        static abstract int Count { get; }
    }

    private readonly struct V4 : IVectors { public static int Count => 4; }
    private readonly struct V2 : IVectors { public static int Count => 2; }
    private readonly struct V1 : IVectors { public static int Count => 1; }

    // xs: C rows ld apart, at the tile's first position; w: the panel (C x 4) -> output channels o0 .. o0 + 3, positions q0 ..
    /// <summary>acc[r, v] = sum over c of w[c, r] * xs[c * ld + v * Width ..] (one FMA chain each, c in order) for the V =
    /// <typeparamref name="TN"/> vectors (16 accumulators at 4, with 32 vector registers), parked in <paramref name="acc"/> (4 rows
    /// of 4 vectors), then stored by <see cref="Output"/>: <paramref name="valid"/> positions from q0 (whole vectors, or fewer in the last one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TS, TV, TA, TN>(float* xs, nint ld, int c, float* w, in Output output, int o0, int q0, int valid, float* acc)
        where TS : ISimd<TV> where TV : struct where TA : IFusedActivation where TN : IVectors
    {
        int v = TN.Count, width = TS.Width;
        TV z = TS.Zero;
        TV a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z, a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        for (int i = 0; i < c; i++, xs += ld, w += Rows)
        {
            // acc[r, v] = fma(w[r], x[v], acc[r, v])
            TV x0 = TS.Load(xs), x1 = v > 1 ? TS.Load(xs + width) : z, x2 = v > 2 ? TS.Load(xs + 2 * width) : z, x3 = v > 3 ? TS.Load(xs + 3 * width) : z;
            TV wr = TS.Broadcast(w[0]);
            a00 = TS.MulAdd(wr, x0, a00); if (v > 1) a01 = TS.MulAdd(wr, x1, a01); if (v > 2) { a02 = TS.MulAdd(wr, x2, a02); a03 = TS.MulAdd(wr, x3, a03); }
            wr = TS.Broadcast(w[1]);
            a10 = TS.MulAdd(wr, x0, a10); if (v > 1) a11 = TS.MulAdd(wr, x1, a11); if (v > 2) { a12 = TS.MulAdd(wr, x2, a12); a13 = TS.MulAdd(wr, x3, a13); }
            wr = TS.Broadcast(w[2]);
            a20 = TS.MulAdd(wr, x0, a20); if (v > 1) a21 = TS.MulAdd(wr, x1, a21); if (v > 2) { a22 = TS.MulAdd(wr, x2, a22); a23 = TS.MulAdd(wr, x3, a23); }
            wr = TS.Broadcast(w[3]);
            a30 = TS.MulAdd(wr, x0, a30); if (v > 1) a31 = TS.MulAdd(wr, x1, a31); if (v > 2) { a32 = TS.MulAdd(wr, x2, a32); a33 = TS.MulAdd(wr, x3, a33); }
        }
        // through the scratch tile, so that no accumulator is live across the store's calls (the JIT then spilled all 16 in the loop)
        Park<TS, TV, TN>(acc, a00, a01, a02, a03);
        Park<TS, TV, TN>(acc + 4 * width, a10, a11, a12, a13);
        Park<TS, TV, TN>(acc + 8 * width, a20, a21, a22, a23);
        Park<TS, TV, TN>(acc + 12 * width, a30, a31, a32, a33);
        for (int r = 0; r < Rows; r++) output.Row<TS, TV, TA, TN>(o0 + r, q0, valid, acc + r * 4 * width);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Park<TS, TV, TN>(float* p, TV v0, TV v1, TV v2, TV v3) where TS : ISimd<TV> where TV : struct where TN : IVectors
    {
        TS.Store(v0, p);
        if (TN.Count > 1) TS.Store(v1, p + TS.Width);
        if (TN.Count > 2)
        {
            TS.Store(v2, p + 2 * TS.Width);
            TS.Store(v3, p + 3 * TS.Width);
        }
    }

    /// <summary>One image's output: channel rows of p positions, the addend's alike (or none), the bias (or none).</summary>
    private readonly struct Output(float* y, float* addend, float* bias, int p, int cout)
    {
        // acc: the V vectors of output channel o from position q0 -> y[o, q0 + j] = f(acc[j] + b[o] + r[o, q0 + j]), j < valid
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Row<TS, TV, TA, TN>(int o, int q0, int valid, float* acc)
            where TS : ISimd<TV> where TV : struct where TA : IFusedActivation where TN : IVectors
        {
            if (o >= cout) return;
            int width = TS.Width;
            long at = (long)o * p + q0;
            TV b = bias == null ? TS.Zero : TS.Broadcast(bias[o]);
            if (valid < TN.Count * width)
            {
                // the row's last tile: each vector whole, partial (the last) or past the positions (none)
                for (int v = 0; v < TN.Count; v++) Vector<TS, TV, TA>(TS.Load(acc + v * width), b, at + v * width, valid - v * width);
                return;
            }
            for (int v = 0; v < TN.Count; v++) Store<TS, TV, TA>(TS.Load(acc + v * width), b, at + v * width);
        }

        // a vector with `valid` positions left from `at`: whole, partial (AVX-512 masks, else through a scratch vector), or none;
        // nothing past the image's positions is read or written
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Vector<TS, TV, TA>(TV acc, TV b, long at, int valid) where TS : ISimd<TV> where TV : struct where TA : IFusedActivation
        {
            if (valid >= TS.Width) Store<TS, TV, TA>(acc, b, at);
            else if (valid <= 0) return;
            else if (typeof(TV) == typeof(Vector512<float>) && Avx512F.IsSupported)
            {
                var mask = Shuffles.FirstLanes(valid);
                var r = addend == null ? Vector512<float>.Zero : Avx512F.MaskLoad(addend + at, mask, Vector512<float>.Zero);
                var f = Finish<Simd512, Vector512<float>, TA>(Unsafe.As<TV, Vector512<float>>(ref acc), Unsafe.As<TV, Vector512<float>>(ref b), r);
                Avx512F.MaskStore(y + at, mask, f);
            }
            else Partial<TS, TV, TA>(acc, b, at, valid);
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private void Partial<TS, TV, TA>(TV acc, TV b, long at, int valid) where TS : ISimd<TV> where TV : struct where TA : IFusedActivation
        {
            float* lanes = stackalloc float[TS.Width];
            for (int j = 0; j < TS.Width; j++) lanes[j] = addend != null && j < valid ? addend[at + j] : 0f;
            TS.Store(Finish<TS, TV, TA>(acc, b, TS.Load(lanes)), lanes);
            new ReadOnlySpan<float>(lanes, valid).CopyTo(new Span<float>(y + at, valid));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Store<TS, TV, TA>(TV acc, TV b, long at) where TS : ISimd<TV> where TV : struct where TA : IFusedActivation =>
            TS.Store(Finish<TS, TV, TA>(acc, b, addend == null ? TS.Zero : TS.Load(addend + at)), y + at);

        // f((acc + b) + r), the bias and the addend skipped where absent (so -0 stays -0, as in the unfused steps)
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private TV Finish<TS, TV, TA>(TV acc, TV b, TV r) where TS : ISimd<TV> where TV : struct where TA : IFusedActivation
        {
            if (bias != null) acc = TS.Add(acc, b);
            if (addend != null) acc = TS.Add(acc, r);
            return TA.Apply<TS, TV>(acc);
        }
    }

    [ThreadStatic] private static float[]? t_input;
}
