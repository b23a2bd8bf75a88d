using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>
/// 2-D convolution computed directly, without im2col: the forward at any stride, and beside it the input gradient of a
/// stride-1 convolution (itself a stride-1 convolution of the output gradient, padded by k - 1 - p, with the kernel
/// flipped and its channel axes swapped) and the weight gradient at any stride (DirectConvolution.WeightGradient.cs: the
/// same phase planes and tap table, summed against dy; in channel tiles where output channels come in blocks of 32,
/// DirectConvolution.ChannelWeightGradient.cs).
/// </summary>
/// <remarks>
/// <para>Each image is copied once into zero-padded planes split by stride phase: for stride s, channel c's padded
/// image (H + 2p) x (W + 2p) becomes s x s planes of R x Q = ceil((H + 2p) / s) x ceil((W + 2p) / s), plane (a, b)
/// holding padded rows s*i + a and columns s*j + b (for stride 1, the one plane is the padded image). Output position
/// q = oh * Q + ow then reads input q + offset(c, kh, kw), offset = plane (kh mod s, kw mod s) of c + (kh / s) * Q +
/// kw / s: along q the window slides contiguously whatever the stride, so a register tile of 4 output channels by
/// several vectors of consecutive q is one FMA per tap (c, kh, kw) per vector, the taps' offsets read from a table
/// and the weights broadcast from a panel packed 4 channels wide. The columns ow &gt;= OW of that Q-wide output are
/// computed and dropped (for the 3x3 convolutions here 1/15 to 2/16 of the work); the epilogue copies the valid ones
/// to y, adds the bias and applies the fused activation (and, for <see cref="ForwardMaxPool2x2(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, FusedActivation)"/>,
/// pools each channel from there). Where output rows are at most 16 wide and output channels come in blocks of 32
/// (16-wide vectors), channel tiles take the place of these tiles (DirectConvolution.ChannelTile.cs): runs of valid
/// positions by 32 output channels, the weights loaded as vectors and x broadcast, no dropped columns.</para>
/// <para>Every output element is one FMA chain over (c, kh, kw) in order, then + bias: the same bits for any thread
/// count, tile position or batch split. Images run in parallel, one per chunk (fewer images than workers: each image's
/// output channels split among them, from ~100 us of work); a convolution under ~100 us of work
/// runs on the calling thread. <see cref="LayerReference.Conv2dForward"/> is the plain reference.</para>
/// </remarks>
public static unsafe partial class DirectConvolution
{
    /// <summary>Output channels per padded-width register tile (the packed weight panel's width; <see cref="ChannelBlock"/> for channel tiles).</summary>
    internal const int Rows = 4;
    private const double InlineFlops = 2e7;
    /// <summary>From this many flops (~25 us of work) an image too few to give every worker one has its output channels split
    /// among them too. Splitting costs the next layer half its input from the other core's cache, and each worker gathers the
    /// whole image, so small convolutions lose by it: from 2 MFLOP, the resnet's 3.6 MFLOP layers made its model at batch 1 on
    /// 2 threads slower (GroupedInference, 3 alternations of 4: 112-118 -> 138-141 us; an earlier round, before the gather in
    /// registers and the batch-1 product split, measured 0.137 -> 0.167 ms and the cnn slower too). From 5 MFLOP, only the
    /// cnn's 7.2 MFLOP 32-to-64 convolution splits: cnn 54-59 -> 50-54 us, resnet level (112-117 against 111-118).</summary>
    private const double SplitFlops = 5e6;

    private struct Args
    {
        public float* X, W, B, Y, Addend;
        public int* Taps;
        public ConvGeometry G;
        public int Cout, MaxTap, BlockGroups;
        /// <summary>Output channels per packed weight panel: <see cref="Rows"/> for the padded-width tiles, <see cref="ChannelBlock"/> for channel tiles.</summary>
        public int BlockRows;
        public SimdWidth Width;
        public FusedActivation Activation;
        public bool Pool;
    }

    /// <summary>Whether the forward of this geometry runs here: a square kernel and padding at most k - 1, any stride.</summary>
    /// <remarks><see cref="Preferred"/> says when it is also the faster path.</remarks>
    public static bool Supports(ConvGeometry g) => g.KH == g.KW && g.Padding <= g.KH - 1;

    /// <summary>Whether the input gradient runs here too: wherever the forward does (at stride 1 a stride-1 convolution of
    /// dy; at stride s, s x s of them, one per phase of the input pixels: DirectConvolution.StridedInputGradient.cs).</summary>
    public static bool SupportsInputGradient(ConvGeometry g) => Supports(g);

    /// <summary>Whether a layer should take this path: supported, with a kernel wider than 1x1. Measured, batch 64, 1 and 2 threads,
    /// against im2col plus products: 3x3 convolutions 1.2-2x faster with 1 input channel (the cnn's and resnet's first, once the
    /// epilogue stored whole vectors), 2.9-4x with 3, 2-2.6x with 16-32, 1.3-1.8x at stride 2, level at batch 1; 1x1 stride-2
    /// convolutions (the resnet's shortcuts) 2.2-2.5x slower, their one tap per channel not paying for the phase planes (those
    /// without padding take <see cref="PointwiseConvolution"/>).</summary>
    public static bool Preferred(ConvGeometry g) => Supports(g) && g.KH > 1;

    // x: (N, C, H, W); w: (Cout, C, k, k); b: (Cout) or empty; y: (N, Cout, OH, OW), overwritten
    /// <summary>y[n, o, i, j] = f(sum over (c, kh, kw) of w[o, c, kh, kw] x[n, c, i - p + kh, j - p + kw] (0 outside) + b[o]),
    /// f the <paramref name="activation"/> (applied as each tile's valid columns are copied out: no pass of its own).</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ConvGeometry g, int cout, Span<float> y,
        FusedActivation activation = FusedActivation.None) =>
        Forward(x, w, b, g, cout, y, SimdDispatch.Widest, activation);

    /// <summary><see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, FusedActivation)"/>
    /// at a chosen vector width (tests run every width the machine supports).</summary>
    internal static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ConvGeometry g, int cout, Span<float> y, SimdWidth width,
        FusedActivation activation = FusedActivation.None)
    {
        Check(g, cout, x.Length, w.Length, y.Length);
        Forward(x, w, b, default, g, cout, y, width, activation, pool: false);
    }

    // x: (N, C, H, W); w: (Cout, C, k, k); b: (Cout) or empty; r: (N, Cout, OH, OW); y: (N, Cout, OH, OW), overwritten
    /// <summary>y = f(conv(x) + b + r): <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, FusedActivation)"/>
    /// with <paramref name="addend"/> added to each output (after the bias, before the activation) as the epilogue stores it:
    /// a residual block's last convolution, its addition and the ReLU after it in one pass (<see cref="Layers.ResidualReLU"/>),
    /// with the bits of the convolution, then the addition, then the activation.</summary>
    public static void ForwardAdd(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ReadOnlySpan<float> addend, ConvGeometry g, int cout,
        Span<float> y, FusedActivation activation = FusedActivation.None) =>
        ForwardAdd(x, w, b, addend, g, cout, y, SimdDispatch.Widest, activation);

    /// <summary><see cref="ForwardAdd(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, FusedActivation)"/>
    /// at a chosen vector width.</summary>
    internal static void ForwardAdd(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ReadOnlySpan<float> addend, ConvGeometry g, int cout,
        Span<float> y, SimdWidth width, FusedActivation activation = FusedActivation.None)
    {
        Check(g, cout, x.Length, w.Length, y.Length);
        CheckAddend(g, cout, addend.Length, y.Length);
        Forward(x, w, b, addend, g, cout, y, width, activation, pool: false);
    }

    // x: (N, C, H, W); w: (Cout, C, k, k); b: (Cout) or empty; addend: as y, or empty; y: (N, Cout, OH, OW), overwritten
    /// <summary>The layer's forward: <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, FusedActivation)"/>,
    /// or with an addend <see cref="ForwardAdd(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, FusedActivation)"/>,
    /// reading the weights from <paramref name="packed"/> (packed from w once) when given instead of packing w.</summary>
    internal static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ReadOnlySpan<float> addend, ConvGeometry g, int cout,
        Span<float> y, FusedActivation activation, PackedConvolutionWeights? packed)
    {
        Check(g, cout, x.Length, w.Length, y.Length);
        if (!addend.IsEmpty) CheckAddend(g, cout, addend.Length, y.Length);
        Forward(x, w, b, addend, g, cout, y, SimdDispatch.Widest, activation, pool: false, packed);
    }

    private static void CheckAddend(ConvGeometry g, int cout, int addend, int y)
    {
        if (addend != y)
            throw new ArgumentException($"Direct convolution {g} with {cout} outputs: the addend has {addend} elements, expected {y} (the output's).");
    }

    // x: (N, C, H, W); w: (Cout, C, k, k); b: (Cout) or empty; y: (N, Cout, OH / 2, OW / 2), overwritten
    /// <summary>y = maxpool2x2(f(conv(x) + b)): <see cref="Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, FusedActivation)"/>
    /// followed by 2x2, stride-2 max pooling (torch.nn.MaxPool2d(2)), each channel's output pooled in the epilogue while it
    /// is in cache, so the full-size output is never stored: the bits of the forward followed by
    /// <see cref="Pooling.MaxForward(ReadOnlySpan{float}, ConvGeometry, Span{float}, Span{int})"/> without argmax.</summary>
    /// <exception cref="ArgumentException">The output is smaller than one window, or a size does not match.</exception>
    public static void ForwardMaxPool2x2(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ConvGeometry g, int cout, Span<float> y,
        FusedActivation activation = FusedActivation.None) =>
        ForwardMaxPool2x2(x, w, b, g, cout, y, SimdDispatch.Widest, activation);

    /// <summary><see cref="ForwardMaxPool2x2(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, FusedActivation)"/>
    /// at a chosen vector width.</summary>
    internal static void ForwardMaxPool2x2(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ConvGeometry g, int cout, Span<float> y,
        SimdWidth width, FusedActivation activation = FusedActivation.None, PackedConvolutionWeights? packed = null)
    {
        if (g.OutH < 2 || g.OutW < 2)
            throw new ArgumentException($"Direct convolution with 2x2 max pooling: the output {g.OutH}x{g.OutW} of {g} is smaller than one 2x2 window.");
        Check(g, cout, x.Length, w.Length, y.Length, (long)g.N * cout * (g.OutH / 2) * (g.OutW / 2));
        Forward(x, w, b, default, g, cout, y, width, activation, pool: true, packed);
    }

    private static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> b, ReadOnlySpan<float> addend, ConvGeometry g, int cout,
        Span<float> y, SimdWidth width, FusedActivation activation, bool pool, PackedConvolutionWeights? prepacked = null)
    {
        if (b.Length != 0 && b.Length != cout) throw new ArgumentException($"Direct convolution: bias has {b.Length} elements, expected {cout} or 0.");
        int rows = ChannelTilesFor(width, g, cout) ? ChannelBlock : Rows;
        float[] packed = prepacked is null ? PackForward(w, g.C, cout, g.KH, rows) : prepacked.For("Direct convolution", g, cout).Panels(rows);
        int[] taps = Taps(g, out int maxTap);
        fixed (float* px = x, pw = packed, pb = b, pr = addend, py = y)
        fixed (int* pt = taps)
        {
            var a = new Args { X = px, W = pw, B = b.IsEmpty ? null : pb, Addend = addend.IsEmpty ? null : pr, Y = py, Taps = pt, MaxTap = maxTap, G = g, Cout = cout,
                BlockRows = rows, Width = width, Activation = activation, Pool = pool };
            Run(&a);
        }
    }

    // dy: (N, Cout, OH, OW); w: (Cout, C, k, k); dx: (N, C, H, W), overwritten
    /// <summary>dx[n, c, i, j] = sum over (o, kh, kw) of w[o, c, kh, kw] dy[n, o, (i + p - kh) / s, (j + p - kw) / s] (over the
    /// divisible terms, 0 outside): at stride 1 the forward over dy with padding k - 1 - p and the kernel
    /// w'[c, o, kh, kw] = w[o, c, k - 1 - kh, k - 1 - kw]; at stride s one such convolution per phase of the input pixels.</summary>
    public static void InputGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> w, ConvGeometry g, int cout, Span<float> dx) =>
        InputGradient(dy, w, g, cout, dx, SimdDispatch.Widest);

    /// <summary><see cref="InputGradient(ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float})"/> at a chosen vector width.</summary>
    internal static void InputGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> w, ConvGeometry g, int cout, Span<float> dx, SimdWidth width)
    {
        Check(g, cout, dx.Length, w.Length, dy.Length);
        if (g.Stride != 1)
        {
            StridedInputGradient(dy, w, g, cout, dx, width);
            return;
        }
        var t = new ConvGeometry(g.N, cout, g.OutH, g.OutW, g.KH, g.KW, 1, g.KH - 1 - g.Padding);
        int rows = ChannelTilesFor(width, t, g.C) ? ChannelBlock : Rows;
        float[] packed = PackTransposed(w, g.C, cout, g.KH, rows);
        int[] taps = Taps(t, out int maxTap);
        fixed (float* pdy = dy, pw = packed, pdx = dx)
        fixed (int* pt = taps)
        {
            var a = new Args { X = pdy, W = pw, B = null, Y = pdx, Taps = pt, MaxTap = maxTap, G = t, Cout = g.C, BlockRows = rows, Width = width };
            Run(&a);
        }
    }

    private static void Check(ConvGeometry g, int cout, int x, int w, int y) => Check(g, cout, x, w, y, (long)g.N * cout * g.OutPlane);

    private static void Check(ConvGeometry g, int cout, int x, int w, int y, long ys)
    {
        if (!Supports(g)) throw new ArgumentException($"Direct convolution needs a square kernel and padding below it, got {g}.");
        long xs = (long)g.N * g.C * g.H * g.W, ws = (long)cout * g.PatchSize;
        if (x != xs || w != ws || y != ys)
            throw new ArgumentException($"Direct convolution {g} with {cout} outputs: sizes x {x} (expected {xs}), w {w} ({ws}), y {y} ({ys}).");
    }

    /// <summary>Runs every image, each image's output-channel blocks in BlockGroups chunks (one unless there are fewer
    /// images than workers), on the workers, or on the calling thread when the work is too small to split. Each output
    /// element is computed alone, so the split changes no bits.</summary>
    private static void Run(Args* a)
    {
        var g = a->G;
        if (g.N == 0) return;
        double flops = 2.0 * a->Cout * g.PatchSize * g.OutPlane * g.N;
        int threads = ComputeSettings.Current.MaxThreads, blocks = (a->Cout + a->BlockRows - 1) / a->BlockRows;
        a->BlockGroups = g.N >= threads || flops < SplitFlops ? 1 : Math.Min(blocks, (threads + g.N - 1) / g.N);
        int chunks = g.N * a->BlockGroups;
        if (chunks == 1 || (a->BlockGroups == 1 && flops < InlineFlops))
            for (int i = 0; i < chunks; i++) Chunk(a, i);
        else Parallelism.For(chunks, a, &Chunk);
    }

    /// <summary>The stride-phase planes of one padded image: s x s planes per channel of Rows x Cols.</summary>
    private readonly struct PhaseLayout(ConvGeometry g)
    {
        public readonly int S = g.Stride;
        public readonly int Rows = (g.H + 2 * g.Padding + g.Stride - 1) / g.Stride, Cols = (g.W + 2 * g.Padding + g.Stride - 1) / g.Stride;
        public int Plane => Rows * Cols;

        /// <summary>Where tap (c, kh, kw) of output position 0 reads: plane (kh mod s, kw mod s) of channel c, row kh / s, column kw / s.</summary>
        public int Offset(int c, int kh, int kw) => ((c * S + kh % S) * S + kw % S) * Plane + kh / S * Cols + kw / S;
    }

    // -> taps[(c * k + kh) * k + kw] = offset(c, kh, kw), in the weights' (c, kh, kw) order
    /// <summary>The tap offsets: offset(c, kh, kw) = c * s * s * plane + offset(0, kh, kw), so the divisions of the
    /// phase arithmetic run k * k times, not once per tap (576 taps of a 64-channel 3x3 convolution, 4 divisions each,
    /// were a measurable part of a batch-1 forward).</summary>
    private static int[] Taps(ConvGeometry g, out int max)
    {
        var layout = new PhaseLayout(g);
        int k = g.KH, kk = k * k, channelStride = layout.S * layout.S * layout.Plane;
        int[] taps = ThreadScratch.Get(ref t_taps, g.PatchSize);
        for (int t = 0; t < kk; t++) taps[t] = layout.Offset(0, t / k, t % k);
        max = 0;
        for (int t = 0; t < kk; t++) max = Math.Max(max, taps[t]);
        for (int c = 1, i = kk; c < g.C; c++)
            for (int t = 0; t < kk; t++, i++) taps[i] = c * channelStride + taps[t];
        if (g.C > 1) max += (g.C - 1) * channelStride;
        return taps;
    }

    // w: (Cout, C, k, k) -> panels of `rows` output channels: packed[((ob * C + c) * k + kh) * k + kw) * rows + r] = w[ob * rows + r, c, kh, kw] (0 past Cout)
    internal static float[] PackForward(ReadOnlySpan<float> w, int c, int cout, int k, int rows)
    {
        int taps = c * k * k, blocks = (cout + rows - 1) / rows;
        float[] packed = ThreadScratch.Get(ref t_weights, blocks * rows * taps);
        fixed (float* pw = w, pp = packed)
            for (int ob = 0; ob < blocks; ob++)
                for (int r0 = 0; r0 < rows; r0 += 4)
                {
                    // four channels of the panel at a time: 4 x 4 transposes, then the taps left
                    float* dst = pp + (long)ob * taps * rows + r0;
                    int first = ob * rows + r0, present = Math.Clamp(cout - first, 0, 4), t = 0;
                    if (Sse.IsSupported && present > 0)
                        for (; t + 4 <= taps; t += 4) Interleave4(pw + (long)first * taps + t, taps, present, dst + t * rows, rows);
                    for (int r = 0; r < 4; r++)
                    {
                        int o = first + r;
                        float* src = pw + (long)o * taps;
                        for (int i = t; i < taps; i++) dst[i * rows + r] = o < cout ? src[i] : 0f;
                    }
                }
        return packed;
    }

    // src: 4 rows ld apart (the first `rows` present) -> dst[j * stride + r] = src[r * ld + j] (0 for r >= rows), j < 4: a 4 x 4 transpose
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave4(float* src, nint ld, int rows, float* dst, nint stride)
    {
        Vector128<float> r0 = Sse.LoadVector128(src), r1 = rows > 1 ? Sse.LoadVector128(src + ld) : default;
        Vector128<float> r2 = rows > 2 ? Sse.LoadVector128(src + 2 * ld) : default, r3 = rows > 3 ? Sse.LoadVector128(src + 3 * ld) : default;
        // t0 = a0 b0 a1 b1, t1 = a2 b2 a3 b3, t2 = c0 d0 c1 d1, t3 = c2 d2 c3 d3
        Vector128<float> t0 = Sse.UnpackLow(r0, r1), t1 = Sse.UnpackHigh(r0, r1), t2 = Sse.UnpackLow(r2, r3), t3 = Sse.UnpackHigh(r2, r3);
        Sse.Store(dst, Sse.MoveLowToHigh(t0, t2));               // a0 b0 c0 d0
        Sse.Store(dst + stride, Sse.MoveHighToLow(t2, t0));      // a1 b1 c1 d1
        Sse.Store(dst + 2 * stride, Sse.MoveLowToHigh(t1, t3));  // a2 b2 c2 d2
        Sse.Store(dst + 3 * stride, Sse.MoveHighToLow(t3, t1));  // a3 b3 c3 d3
    }

    // w: (Cout, C, k, k) -> the panels of `rows` channels of w'[c, o, kh, kw] = w[o, c, k - 1 - kh, k - 1 - kw] (C outputs, Cout inputs)
    private static float[] PackTransposed(ReadOnlySpan<float> w, int c, int cout, int k, int rows)
    {
        int kk = k * k, taps = cout * kk, blocks = (c + rows - 1) / rows;
        float[] packed = ThreadScratch.Get(ref t_weights, blocks * rows * taps);
        for (int ob = 0; ob < blocks; ob++)
            for (int r = 0; r < rows; r++)
            {
                int ci = ob * rows + r;
                for (int o = 0; o < cout; o++)
                    for (int t = 0; t < kk; t++)
                        packed[(ob * taps + o * kk + t) * rows + r] = ci < c ? w[(o * c + ci) * kk + kk - 1 - t] : 0f;
            }
        return packed;
    }

    /// <summary>Chunk i: image i / BlockGroups, its output-channel blocks of group i % BlockGroups.</summary>
    private static void Chunk(void* state, int i)
    {
        var a = (Args*)state;
        int n = i / a->BlockGroups, group = i % a->BlockGroups, blocks = (a->Cout + a->BlockRows - 1) / a->BlockRows;
        SimdDispatch.Run(a->Width, new ImageOp(a, n, group * blocks / a->BlockGroups, (group + 1) * blocks / a->BlockGroups));
    }

    private readonly struct ImageOp(Args* a, int n, int firstBlock, int endBlock) : ISimdOperation
    {
        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct => Image<TS, TV>(a, n, firstBlock, endBlock);
    }

    /// <summary>Pads image n and runs every tile of output-channel blocks [firstBlock, endBlock) over the output: channel
    /// tiles over the valid positions only (<see cref="UsesChannelTiles"/>), which store y themselves, pooled or not; row-pair
    /// tiles, pooled in registers (<see cref="UsesPooledRowPairs"/>); else padded-width tiles and the epilogue that copies
    /// their valid columns (+ bias, addend, activation, pooling) to y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image<TS, TV>(Args* a, int n, int firstBlock, int endBlock) where TS : ISimd<TV> where TV : struct
    {
        var g = a->G;
        var layout = new PhaseLayout(g);
        int oh = g.OutH, ow = g.OutW, cout = a->Cout;
        bool channelTiles = a->BlockRows == ChannelBlock;
        // pooled in padded-width tiles: row-pair tiles where two output rows fit one (their last reads up to PairSpan past its first row)
        bool pairs = a->Pool && !channelTiles && RowPairsFit(TS.Width, layout.Cols);
        // padded-width tiles run up to qr (less than a vector past q = OH x Cols), into yp's channels qr apart
        int q = oh * layout.Cols, qr = (q + TS.Width - 1) / TS.Width * TS.Width;
        int reach = pairs ? Math.Max(qr, (oh / 2 * 2 - 2) * layout.Cols + PairSpan) : qr;
        // the last padded-width tile reads up to the largest tap offset + reach - 1 (channel tiles read less)
        int length = Math.Max(a->MaxTap + reach, g.C * layout.S * layout.S * layout.Plane);
        float[] xpBuffer = ThreadScratch.Get(ref t_input, length);
        fixed (float* xp = xpBuffer)
        {
            Gather(a->X + (long)n * g.C * g.H * g.W, g, layout, xp, length);
            float* pooled = a->Y + (long)n * cout * (oh / 2) * (ow / 2);
            if (channelTiles)
            {
                // channel tiles store y themselves (pooled or not), bias, addend and activation included
                if (!a->Pool) ChannelImage<TS, TV>(a, n, xp, firstBlock, endBlock);
                else if (a->Activation == FusedActivation.Relu) PooledChannelImage<TS, TV, ReluActivation>(a, xp, pooled, firstBlock, endBlock);
                else PooledChannelImage<TS, TV, NoActivation>(a, xp, pooled, firstBlock, endBlock);
                return;
            }
            if (pairs)
            {
                if (a->Activation == FusedActivation.Relu) PooledRowPairs<TS, TV, ReluActivation>(a, xp, pooled, firstBlock, endBlock);
                else PooledRowPairs<TS, TV, NoActivation>(a, xp, pooled, firstBlock, endBlock);
                return;
            }
            PaddedWidthImage<TS, TV>(a, n, xp, qr, firstBlock, endBlock);
        }
    }

    /// <summary>The padded-width tiles of image n into yp, then the epilogue that copies their valid columns to y (+ bias,
    /// addend, activation; or pools them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PaddedWidthImage<TS, TV>(Args* a, int n, float* xp, int qr, int firstBlock, int endBlock) where TS : ISimd<TV> where TV : struct
    {
        var g = a->G;
        int oh = g.OutH, ow = g.OutW, cout = a->Cout, wp = new PhaseLayout(g).Cols, blocks = (cout + Rows - 1) / Rows;
        // the epilogue's last vector of a row may read up to a vector past the last channel's rows
        float[] ypBuffer = ThreadScratch.Get(ref t_output, blocks * Rows * qr + TS.Width);
        fixed (float* yp = ypBuffer)
        {
            PaddedWidthTiles<TS, TV>(a, xp, yp, qr, firstBlock, endBlock);
            var channels = new Channels(a->B, firstBlock * Rows, Math.Min(cout, endBlock * Rows), a->Addend == null ? null : a->Addend + (long)n * cout * g.OutPlane);
            if (a->Pool)
            {
                float* pooled = a->Y + (long)n * cout * (oh / 2) * (ow / 2);
                if (a->Activation == FusedActivation.Relu) PooledEpilogue<TS, TV, ReluActivation>(yp, qr, wp, channels, oh, ow, pooled);
                else PooledEpilogue<TS, TV, NoActivation>(yp, qr, wp, channels, oh, ow, pooled);
                return;
            }
            float* y = a->Y + (long)n * cout * g.OutPlane;
            if (a->Activation == FusedActivation.Relu) Epilogue<TS, TV, ReluActivation>(yp, qr, wp, channels, oh, ow, y);
            else Epilogue<TS, TV, NoActivation>(yp, qr, wp, channels, oh, ow, y);
        }
    }

    /// <summary>The padded-width tiles of channel blocks [firstBlock, endBlock): full tiles of TileVectors vectors of
    /// consecutive positions, then a two-vector tile and one-vector tiles up to qr, into yp's channels qr apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PaddedWidthTiles<TS, TV>(Args* a, float* xp, float* yp, int qr, int firstBlock, int endBlock) where TS : ISimd<TV> where TV : struct
    {
        int vectors = TileVectors<TS, TV>(), span = vectors * TS.Width, taps = a->G.PatchSize;
        for (int q0 = 0; q0 < qr;)
        {
            int v = qr - q0 >= span ? vectors : qr - q0 >= 2 * TS.Width ? 2 : 1;
            for (int ob = firstBlock; ob < endBlock; ob++)
                Tile<TS, TV>(v, xp + q0, a->Taps, taps, a->W + (long)ob * taps * Rows, yp + (long)ob * Rows * qr + q0, qr);
            q0 += v * TS.Width;
        }
    }

    /// <summary>Vectors of consecutive output positions per tile: 4 where 32 vector registers hold the 16 accumulators,
    /// else 2 (8 accumulators, 4 broadcasts and a load fit 16).</summary>
    private static int TileVectors<TS, TV>() where TS : ISimd<TV> where TV : struct => TS.Width == 16 ? 4 : 2;

    [ThreadStatic] private static float[]? t_weights, t_input, t_output;
    [ThreadStatic] private static int[]? t_taps;
}
