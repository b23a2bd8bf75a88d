using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NormNet.Threading;

namespace NormNet.Kernels;

public static unsafe partial class DirectConvolution
{
    /// <summary>Taps per weight-gradient register tile: 4 output channels x 6 taps = 24 accumulators, with 4 vectors of
    /// dy and one of x beside them (29 of 32 vector registers); channel tiles hold 32 channels x 6 taps x 2 positions.</summary>
    private const int GradTaps = 6;
    /// <summary>Floats of one group's gathered images (their phase planes and padded dy rows): 96 K floats, 384 KiB, so
    /// that a group stays in one core's L2 while every tile of it reads it.</summary>
    private const int GradGroupFloats = 96 * 1024;

    private struct GradArgs
    {
        public float* X, Dy, DwParts, DbParts;
        public int* Taps;
        public ConvGeometry G;
        public int Cout, MaxTap, Images, Groups, PaddedTaps;
        public SimdWidth Width;
        /// <summary>Whether the groups run in channel tiles (<see cref="UsesChannelWeightGradient"/>).</summary>
        public bool Channels;
    }

    /// <summary>Whether the weight gradient runs here: <see cref="Supports"/>, and vectors of 16 floats (its 24-accumulator
    /// tile needs 32 vector registers; narrower machines keep the im2col product, <see cref="ConvolutionKernels.WeightGradient"/>).</summary>
    public static bool SupportsWeightGradient(ConvGeometry g) => Supports(g) && SimdDispatch.Widest == SimdWidth.W512;

    // dy: (N, Cout, OH, OW); x: (N, C, H, W); dw: (Cout, C, k, k), db: (Cout) or empty, accumulated
    /// <summary>dw[o, c, kh, kw] += sum over (n, i, j) of dy[n, o, i, j] x[n, c, s*i - p + kh, s*j - p + kw] (0 outside); db[o] += sum of dy[:, o].</summary>
    /// <remarks>The images go in groups of a fixed count (set by the geometry, so that a group's phase planes and dy rows fit
    /// L2). In a group, each register tile of 4 output channels by 6 taps sums dy[o, q] * xp[q + offset(tap)] over the
    /// group's padded-width output positions q (the forward's tap table, read the other way; dy is 0 at the padding
    /// columns) in vector lanes, then adds the lanes. With output channels in blocks of 32 and 16-wide vectors, channel
    /// tiles of 32 channels by 6 taps take their place (DirectConvolution.ChannelWeightGradient.cs): dy transposed, x
    /// broadcast, valid positions only, no lane sums. The groups' partial sums are added in group order: the same bits
    /// for any thread count. <see cref="LayerReference.Conv2dBackward"/> is the plain reference.</remarks>
    public static void WeightGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ConvGeometry g, int cout, Span<float> dw, Span<float> db) =>
        WeightGradient(dy, x, g, cout, dw, db, SimdDispatch.Widest);

    /// <summary><see cref="WeightGradient(ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, Span{float})"/>
    /// at a chosen vector width (tests run every width the machine supports).</summary>
    internal static void WeightGradient(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ConvGeometry g, int cout, Span<float> dw, Span<float> db, SimdWidth width)
    {
        if (!Supports(g)) throw new ArgumentException($"Direct convolution weight gradient needs a square kernel and padding below it, got {g}.");
        long xs = (long)g.N * g.C * g.H * g.W, ys = (long)g.N * cout * g.OutPlane;
        if (x.Length != xs || dy.Length != ys || dw.Length != cout * g.PatchSize || (db.Length != 0 && db.Length != cout))
            throw new ArgumentException($"Direct convolution weight gradient {g} with {cout} outputs: sizes x {x.Length} (expected {xs}), dy {dy.Length} ({ys}), dW {dw.Length} ({cout * g.PatchSize}), db {db.Length} ({cout} or 0).");
        if (g.N == 0) return;
        int taps = g.PatchSize, padded = (taps + GradTaps - 1) / GradTaps * GradTaps;
        int[] table = Taps(g, out int maxTap);
        int[] tapBuffer = ThreadScratch.Get(ref t_gradTaps, padded);
        // the padding taps read offset 0 (inside the planes) and are never stored
        Array.Copy(table, tapBuffer, taps);
        Array.Clear(tapBuffer, taps, padded - taps);
        var a = new GradArgs { G = g, Cout = cout, MaxTap = maxTap, PaddedTaps = padded, Width = width, Channels = UsesChannelWeightGradient(width, cout) };
        a.Images = a.Channels ? ChannelGradImagesPerGroup(g, cout, maxTap) : GradImagesPerGroup(g, cout, maxTap);
        a.Groups = (g.N + a.Images - 1) / a.Images;
        float[] parts = ThreadScratch.Get(ref t_gradParts, a.Groups * cout * (taps + 1));
        fixed (float* px = x, pdy = dy, pp = parts)
        fixed (int* pt = tapBuffer)
        {
            a.X = px; a.Dy = pdy; a.Taps = pt; a.DwParts = pp; a.DbParts = pp + (long)a.Groups * cout * taps;
            double flops = 2.0 * cout * taps * g.OutPlane * g.N;
            if (a.Groups == 1 || flops < InlineFlops)
                for (int i = 0; i < a.Groups; i++) GradGroup(&a, i);
            else Parallelism.For(a.Groups, &a, &GradGroup);
            ConvolutionKernels.AddGroupSums(a.DwParts, a.DbParts, a.Groups, cout, dw, db);
        }
    }

    /// <summary>The gathered sizes of one image: its phase planes (as the forward pads them) and its dy rows, one per output
    /// channel rounded up to whole tiles, each qr long (the padded-width positions rounded up to a vector).</summary>
    private static (int Input, int Rows, int Qr) GradImageLayout(ConvGeometry g, int cout, int maxTap, int vector)
    {
        var layout = new PhaseLayout(g);
        int qr = (g.OutH * layout.Cols + vector - 1) / vector * vector;
        int input = Math.Max(maxTap + qr, g.C * layout.S * layout.S * layout.Plane);
        return (input, (cout + Rows - 1) / Rows * Rows, qr);
    }

    /// <summary>Images per group: as many as fit <see cref="GradGroupFloats"/> (at least one), from the geometry alone (laid
    /// out for 16-wide vectors whatever the width, so the groups do not depend on it; the lanes within a group do).</summary>
    private static int GradImagesPerGroup(ConvGeometry g, int cout, int maxTap)
    {
        var (input, rows, qr) = GradImageLayout(g, cout, maxTap, 16);
        return Math.Clamp(GradGroupFloats / (input + rows * qr), 1, g.N);
    }

    private static void GradGroup(void* state, int group)
    {
        var a = (GradArgs*)state;
        if (a->Channels) ChannelGradGroup(a, group);
        else SimdDispatch.Run(a->Width, new GradGroupOp(a, group));
    }

    private readonly struct GradGroupOp(GradArgs* a, int group) : ISimdOperation
    {
        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct => GradGroup<TS, TV>(a, group);
    }

    /// <summary>Gathers the group's images (phase planes, dy rows with zeros at the padding columns, db sums), then runs
    /// every tile over them and stores each tile's lane sums into the group's partial dW.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradGroup<TS, TV>(GradArgs* a, int group) where TS : ISimd<TV> where TV : struct
    {
        var g = a->G;
        var layout = new PhaseLayout(g);
        int cout = a->Cout, taps = g.PatchSize, first = group * a->Images, count = Math.Min(a->Images, g.N - first);
        var (input, rows, qr) = GradImageLayout(g, cout, a->MaxTap, TS.Width);
        int image = input + rows * qr;
        float[] buffer = ThreadScratch.Get(ref t_gradImages, count * image);
        float* dw = a->DwParts + (long)group * cout * taps, db = a->DbParts + (long)group * cout;
        new Span<float>(db, cout).Clear();
        fixed (float* gathered = buffer)
        {
            for (int i = 0; i < count; i++)
            {
                float* xp = gathered + (long)i * image;
                Gather(a->X + (long)(first + i) * g.C * g.H * g.W, g, layout, xp, input);
                GatherGradient(a->Dy + (long)(first + i) * cout * g.OutPlane, g, cout, layout.Cols, xp + input, rows, qr, db);
            }
            for (int ob = 0; ob < rows; ob += Rows)
                for (int t0 = 0; t0 < a->PaddedTaps; t0 += GradTaps)
                    GradTile<TS, TV>(gathered, count, image, input + ob * qr, qr, a->Taps + t0, ob, t0, cout, taps, dw);
        }
    }

    // dy: (Cout, OH, OW) of one image -> dyp: (rows, qr), dyp[o, i * wp + j] = dy[o, i, j] for j < OW, else 0; db[o] += sum of dyp[o]
    private static void GatherGradient(float* dy, ConvGeometry g, int cout, int wp, float* dyp, int rows, int qr, float* db)
    {
        int oh = g.OutH, ow = g.OutW;
        new Span<float>(dyp, rows * qr).Clear();
        for (int o = 0; o < cout; o++)
        {
            for (int i = 0; i < oh; i++)
                new ReadOnlySpan<float>(dy + ((long)o * oh + i) * ow, ow).CopyTo(new Span<float>(dyp + (long)o * qr + i * wp, ow));
            db[o] += Sum8(dyp + (long)o * qr, oh * wp);
        }
    }

    // p: (n)
    /// <summary>sum_j p[j] in a fixed order whatever the machine: 8 lanes (4 vectors of them), the lanes, then the tail.</summary>
    private static float Sum8(float* p, int n)
    {
        Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
        int j = 0;
        for (; j <= n - 32; j += 32)
        {
            s0 += Vector256.Load(p + j); s1 += Vector256.Load(p + j + 8);
            s2 += Vector256.Load(p + j + 16); s3 += Vector256.Load(p + j + 24);
        }
        for (; j <= n - 8; j += 8) s0 += Vector256.Load(p + j);
        float sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; j < n; j++) sum += p[j];
        return sum;
    }

    // images: count gathered images, `image` floats apart, each its planes then its dy rows (rows at dyOffset + r * qr);
    // taps: GradTaps offsets -> dw[o, t] = sum of the tile's lanes, for o < cout and t < taps
    /// <summary>acc[r, t] = sum over the images and positions q of dyp[ob + r, q] * xp[taps[t] + q], lane by lane (one FMA
    /// chain per lane, in image and position order), then dw[ob + r, t0 + t] = the sum of acc[r, t]'s lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GradTile<TS, TV>(float* images, int count, int image, int dyOffset, int qr, int* taps, int ob, int t0, int cout, int tapCount, float* dw)
        where TS : ISimd<TV> where TV : struct
    {
        int w = TS.Width;
        nint f0 = taps[0], f1 = taps[1], f2 = taps[2], f3 = taps[3], f4 = taps[4], f5 = taps[5];
        TV a00 = TS.Zero, a01 = TS.Zero, a02 = TS.Zero, a03 = TS.Zero, a04 = TS.Zero, a05 = TS.Zero;
        TV a10 = TS.Zero, a11 = TS.Zero, a12 = TS.Zero, a13 = TS.Zero, a14 = TS.Zero, a15 = TS.Zero;
        TV a20 = TS.Zero, a21 = TS.Zero, a22 = TS.Zero, a23 = TS.Zero, a24 = TS.Zero, a25 = TS.Zero;
        TV a30 = TS.Zero, a31 = TS.Zero, a32 = TS.Zero, a33 = TS.Zero, a34 = TS.Zero, a35 = TS.Zero;
        for (int i = 0; i < count; i++)
        {
            float* xp = images + (long)i * image, d = xp + dyOffset;
            for (int q = 0; q < qr; q += w)
            {
                // acc[r, t] = fma(dy[r, q], x[tap t + q], acc[r, t])
                TV d0 = TS.Load(d + q), d1 = TS.Load(d + qr + q), d2 = TS.Load(d + 2 * qr + q), d3 = TS.Load(d + 3 * qr + q);
                float* xq = xp + q;
                TV v = TS.Load(xq + f0);
                a00 = TS.MulAdd(d0, v, a00); a10 = TS.MulAdd(d1, v, a10); a20 = TS.MulAdd(d2, v, a20); a30 = TS.MulAdd(d3, v, a30);
                v = TS.Load(xq + f1);
                a01 = TS.MulAdd(d0, v, a01); a11 = TS.MulAdd(d1, v, a11); a21 = TS.MulAdd(d2, v, a21); a31 = TS.MulAdd(d3, v, a31);
                v = TS.Load(xq + f2);
                a02 = TS.MulAdd(d0, v, a02); a12 = TS.MulAdd(d1, v, a12); a22 = TS.MulAdd(d2, v, a22); a32 = TS.MulAdd(d3, v, a32);
                v = TS.Load(xq + f3);
                a03 = TS.MulAdd(d0, v, a03); a13 = TS.MulAdd(d1, v, a13); a23 = TS.MulAdd(d2, v, a23); a33 = TS.MulAdd(d3, v, a33);
                v = TS.Load(xq + f4);
                a04 = TS.MulAdd(d0, v, a04); a14 = TS.MulAdd(d1, v, a14); a24 = TS.MulAdd(d2, v, a24); a34 = TS.MulAdd(d3, v, a34);
                v = TS.Load(xq + f5);
                a05 = TS.MulAdd(d0, v, a05); a15 = TS.MulAdd(d1, v, a15); a25 = TS.MulAdd(d2, v, a25); a35 = TS.MulAdd(d3, v, a35);
            }
        }
        var sums = new GradSums(dw, ob, t0, cout, tapCount);
        sums.Row<TS, TV>(0, a00, a01, a02, a03, a04, a05);
        sums.Row<TS, TV>(1, a10, a11, a12, a13, a14, a15);
        sums.Row<TS, TV>(2, a20, a21, a22, a23, a24, a25);
        sums.Row<TS, TV>(3, a30, a31, a32, a33, a34, a35);
    }

    /// <summary>Where a tile's lane sums go: dw[ob + r, t0 + t], for the rows below cout and the taps below the tap count.</summary>
    private readonly struct GradSums(float* dw, int ob, int t0, int cout, int taps)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Row<TS, TV>(int r, TV v0, TV v1, TV v2, TV v3, TV v4, TV v5) where TS : ISimd<TV> where TV : struct
        {
            if (ob + r >= cout) return;
            float* row = dw + (long)(ob + r) * taps + t0;
            int n = Math.Min(GradTaps, taps - t0);
            if (typeof(TV) == typeof(Vector512<float>) && Avx512F.IsSupported)
            {
                // four sums per reduction (the bits of Vector512.Sum), the tile's last two with two zero vectors
                var first = Sums4(As512(v0), As512(v1), As512(v2), As512(v3));
                var last = Sums4(As512(v4), As512(v5), Vector512<float>.Zero, Vector512<float>.Zero);
                for (int t = 0; t < n; t++) row[t] = t < 4 ? first.GetElement(t) : last.GetElement(t - 4);
                return;
            }
            row[0] = TS.Sum(v0);
            if (n > 1) row[1] = TS.Sum(v1);
            if (n > 2) row[2] = TS.Sum(v2);
            if (n > 3) row[3] = TS.Sum(v3);
            if (n > 4) row[4] = TS.Sum(v4);
            if (n > 5) row[5] = TS.Sum(v5);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> As512<TV>(TV v) where TV : struct => Unsafe.As<TV, Vector512<float>>(ref v);

    // a, b, c, d: 16 lanes each -> (sum of a, sum of b, sum of c, sum of d)
    /// <summary>The lane sums of four vectors in one reduction, each summed as <see cref="Vector512.Sum{T}"/> sums it (the
    /// same bits): in every 128-bit chunk (x0 + x1) + (x2 + x3), then (chunk 0 + chunk 1) + (chunk 2 + chunk 3). About 13
    /// instructions for the four where the sums one by one took 22 each (a tile's 24 sums per group of images, against its
    /// 28 steps of 24 FMAs on 7x7 outputs). Measured, batch 128, 1 thread, 3 alternations: the stride-2 32 -> 64 weight
    /// gradient 2714-3008 -> 2382-2428 us, 64 -> 64 on 7x7 4211-4397 -> 3848-3889.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Sums4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        // per chunk: (a0 + a1, a2 + a3, b0 + b1, b2 + b3), the same of c and d, then (A, B, C, D): each vector's chunk sum
        var ab = Avx512F.Shuffle(a, b, 0x88) + Avx512F.Shuffle(a, b, 0xDD);
        var cd = Avx512F.Shuffle(c, d, 0x88) + Avx512F.Shuffle(c, d, 0xDD);
        var chunks = Avx512F.Shuffle(ab, cd, 0x88) + Avx512F.Shuffle(ab, cd, 0xDD);
        // chunk 0 + chunk 1 (and 2 + 3), then their sum in chunk 0
        var pairs = chunks + Avx512F.Shuffle4x128(chunks, chunks, 0xB1);
        return (pairs + Avx512F.Shuffle4x128(pairs, pairs, 0x4E)).GetLower().GetLower();
    }

    [ThreadStatic] private static float[]? t_gradImages, t_gradParts;
    [ThreadStatic] private static int[]? t_gradTaps;
}
