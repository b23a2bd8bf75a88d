using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormNet.Kernels;

public static unsafe partial class DirectConvolution
{
    /// <summary>Whether the weight gradient runs in channel tiles (<see cref="ChannelGradTile"/>): 16-wide vectors and output
    /// channels a multiple of <see cref="ChannelBlock"/>. The padded-width tiles of <see cref="GradTile{TS, TV}"/> summed
    /// dy x x over padded positions in vector lanes: on 7x7 outputs 64 positions for 49 valid, a group of 7 images gave
    /// each tile 28 steps before its 24 lane sums, and 6 of its 10 loads per step crossed a cache line. Measured, batch 128,
    /// 3 alternations of builds, 1 thread / 2 threads (the first 1-thread run of this path was slower, 2292-3696 us, the
    /// machine's noise): the stride-2 32 -> 64 2524-2682 -> 1583-1626 us / 1589-1687 -> 925-1037; 64 -> 64 on 7x7
    /// 3970-4129 -> 2808-2821 / 2312-2334 -> 1499-1525; 32 -> 32 on 14x14 3328-3503 -> 2869-3492 / 1856-1944 -> 1449-1487;
    /// the stride-2 16 -> 32 2090-2439 -> 1820-1843 / 1300-1348 -> 900-941; 1 -> 32 on 28x28 1161-1471 -> 1090-1123 / 640-736
    /// -> 480-531.</summary>
    private static bool UsesChannelWeightGradient(SimdWidth width, int cout) =>
        width == SimdWidth.W512 && Simd512.IsSupported && cout % ChannelBlock == 0;

    /// <summary>The gathered sizes of one image for channel tiles: its phase planes (as the forward pads them) and its dy
    /// transposed, one row of cout per valid output position.</summary>
    private static (int Input, int Gradient) ChannelGradImageLayout(ConvGeometry g, int cout, int maxTap)
    {
        var layout = new PhaseLayout(g);
        int input = Math.Max(maxTap + g.OutH * layout.Cols, g.C * layout.S * layout.S * layout.Plane);
        return ((input + 15) / 16 * 16, g.OutPlane * cout);
    }

    /// <summary>Images per group for channel tiles: as many as fit <see cref="GradGroupFloats"/> (at least one), from the
    /// geometry alone.</summary>
    private static int ChannelGradImagesPerGroup(ConvGeometry g, int cout, int maxTap)
    {
        var (input, gradient) = ChannelGradImageLayout(g, cout, maxTap);
        return Math.Clamp(GradGroupFloats / (input + gradient), 1, g.N);
    }

    /// <summary>Images per group of the weight gradient at <paramref name="width"/>, in channel tiles or not (for the tests,
    /// which rebuild its summation order).</summary>
    internal static int WeightGradientImagesPerGroup(ConvGeometry g, int cout, SimdWidth width)
    {
        Taps(g, out int maxTap);
        return UsesChannelWeightGradient(width, cout) ? ChannelGradImagesPerGroup(g, cout, maxTap) : GradImagesPerGroup(g, cout, maxTap);
    }

    // group: images first .. first + count - 1 -> dw part (cout, taps) and db part (cout), overwritten
    /// <summary>Gathers the group's images (phase planes one after another, then dy transposed to (positions, cout) for all of
    /// them, with the db sums) and the x offset of every valid output position, then runs every channel tile over the
    /// group's positions and stores each tile's 32 channels by 6 taps into the group's partial dW.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ChannelGradGroup(GradArgs* a, int group)
    {
        var g = a->G;
        var layout = new PhaseLayout(g);
        int cout = a->Cout, taps = g.PatchSize, first = group * a->Images, count = Math.Min(a->Images, g.N - first);
        var (input, gradient) = ChannelGradImageLayout(g, cout, a->MaxTap);
        int positions = count * g.OutPlane;
        // 16 floats of slack to start the planes on a 64-byte boundary (dy's rows then are too: input is a multiple of 16)
        float[] buffer = ThreadScratch.Get(ref t_gradImages, count * (input + gradient) + 16);
        int[] offsets = ThreadScratch.Get(ref t_gradOffsets, positions);
        float* dw = a->DwParts + (long)group * cout * taps, db = a->DbParts + (long)group * cout;
        new Span<float>(db, cout).Clear();
        fixed (float* pb = buffer)
        fixed (int* offs = offsets)
        {
            float* images = (float*)(((nint)pb + 63) & ~(nint)63), dyT = images + (long)count * input;
            for (int i = 0; i < count; i++)
            {
                float* xp = images + (long)i * input;
                Gather(a->X + (long)(first + i) * g.C * g.H * g.W, g, layout, xp, input);
                TransposeGradient(a->Dy + (long)(first + i) * cout * g.OutPlane, g.OutPlane, cout, dyT + (long)i * gradient, db);
                PositionOffsets(g, layout.Cols, i * input, offs + i * g.OutPlane);
            }
            float* tile = stackalloc float[16 * ChannelBlock];
            for (int ob = 0; ob < cout; ob += ChannelBlock)
                for (int t0 = 0; t0 < a->PaddedTaps; t0 += GradTaps)
                {
                    ChannelGradTile(images, offs, positions, dyT + ob, cout, a->Taps + t0, tile);
                    StoreGradTile(tile, dw + (long)ob * taps + t0, taps, Math.Min(GradTaps, taps - t0));
                }
        }
    }

    // dy: (cout, plane) of one image -> dyT: (plane, cout), dyT[p, o] = dy[o, p]; db[o] += sum of dy[o]
    /// <summary>Transposes one image's output gradient 16 channels by 16 positions at a time in registers (the positions
    /// past the last 16 one by one), and adds each channel's sum to db.</summary>
    private static void TransposeGradient(float* dy, int plane, int cout, float* dyT, float* db)
    {
        int whole = plane / 16 * 16;
        for (int o0 = 0; o0 < cout; o0 += 16)
        {
            for (int p0 = 0; p0 < whole; p0 += 16)
                Transpose16x16(dy + (long)o0 * plane + p0, plane, new RawColumns(dyT + (long)p0 * cout + o0, cout));
            for (int o = o0; o < o0 + 16; o++)
                for (int p = whole; p < plane; p++) dyT[(long)p * cout + o] = dy[(long)o * plane + p];
        }
        for (int o = 0; o < cout; o++) db[o] += Sum8(dy + (long)o * plane, plane);
    }

    // -> offs[i * OW + j] = image + i * cols + j: where output position (i, j) of the image reads its tap offsets from
    private static void PositionOffsets(ConvGeometry g, int cols, int image, int* offs)
    {
        for (int i = 0, p = 0; i < g.OutH; i++)
            for (int j = 0; j < g.OutW; j++, p++) offs[p] = image + i * cols + j;
    }

    // images: the group's phase planes; offs: (positions) x offsets; dyT: (positions, cout) at the tile's first channel;
    // taps: 6 offsets -> tile[t, r] for t < 6, r < 32
    /// <summary>tile[t, r] = (sum over the even positions p of x[offs[p] + taps[t]] * dyT[p, r]) + (the same over the odd
    /// ones): two FMA chains per output, each in position order (images, then rows, then columns), for 32 output channels
    /// and 6 taps. 24 accumulators; per pair of positions 4 loads of dy (whole, aligned vectors) and 12 broadcasts of x,
    /// over valid positions only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ChannelGradTile(float* images, int* offs, int positions, float* dyT, int cout, int* taps, float* tile)
    {
        nint f0 = taps[0], f1 = taps[1], f2 = taps[2], f3 = taps[3], f4 = taps[4], f5 = taps[5];
        var z = Vector512<float>.Zero;
        // a, b: channels 0-15 and 16-31 at even positions; c, e: at odd positions
        Vector512<float> a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, b0 = z, b1 = z, b2 = z, b3 = z, b4 = z, b5 = z;
        Vector512<float> c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z, e0 = z, e1 = z, e2 = z, e3 = z, e4 = z, e5 = z;
        nint step = cout;
        // pointers stepped (an index multiplied per step, and its bound, had been kept on the stack)
        int* o = offs, pairsEnd = offs + (positions & ~1);
        float* d = dyT;
        for (; o < pairsEnd; o += 2, d += 2 * step)
        {
            float* x0 = images + o[0], x1 = images + o[1];
            Vector512<float> d0 = Vector512.Load(d), d1 = Vector512.Load(d + 16), d2 = Vector512.Load(d + step), d3 = Vector512.Load(d + step + 16), s;
            // acc[t, r] = fma(x[tap t], dy[r], acc[t, r])
            s = Vector512.Create(x0[f0]); a0 = Avx512F.FusedMultiplyAdd(s, d0, a0); b0 = Avx512F.FusedMultiplyAdd(s, d1, b0);
            s = Vector512.Create(x1[f0]); c0 = Avx512F.FusedMultiplyAdd(s, d2, c0); e0 = Avx512F.FusedMultiplyAdd(s, d3, e0);
            s = Vector512.Create(x0[f1]); a1 = Avx512F.FusedMultiplyAdd(s, d0, a1); b1 = Avx512F.FusedMultiplyAdd(s, d1, b1);
            s = Vector512.Create(x1[f1]); c1 = Avx512F.FusedMultiplyAdd(s, d2, c1); e1 = Avx512F.FusedMultiplyAdd(s, d3, e1);
            s = Vector512.Create(x0[f2]); a2 = Avx512F.FusedMultiplyAdd(s, d0, a2); b2 = Avx512F.FusedMultiplyAdd(s, d1, b2);
            s = Vector512.Create(x1[f2]); c2 = Avx512F.FusedMultiplyAdd(s, d2, c2); e2 = Avx512F.FusedMultiplyAdd(s, d3, e2);
            s = Vector512.Create(x0[f3]); a3 = Avx512F.FusedMultiplyAdd(s, d0, a3); b3 = Avx512F.FusedMultiplyAdd(s, d1, b3);
            s = Vector512.Create(x1[f3]); c3 = Avx512F.FusedMultiplyAdd(s, d2, c3); e3 = Avx512F.FusedMultiplyAdd(s, d3, e3);
            s = Vector512.Create(x0[f4]); a4 = Avx512F.FusedMultiplyAdd(s, d0, a4); b4 = Avx512F.FusedMultiplyAdd(s, d1, b4);
            s = Vector512.Create(x1[f4]); c4 = Avx512F.FusedMultiplyAdd(s, d2, c4); e4 = Avx512F.FusedMultiplyAdd(s, d3, e4);
            s = Vector512.Create(x0[f5]); a5 = Avx512F.FusedMultiplyAdd(s, d0, a5); b5 = Avx512F.FusedMultiplyAdd(s, d1, b5);
            s = Vector512.Create(x1[f5]); c5 = Avx512F.FusedMultiplyAdd(s, d2, c5); e5 = Avx512F.FusedMultiplyAdd(s, d3, e5);
        }
        if ((positions & 1) != 0)
        {
            // the last position, even, when the count is odd
            float* x0 = images + o[0];
            Vector512<float> d0 = Vector512.Load(d), d1 = Vector512.Load(d + 16), s;
            s = Vector512.Create(x0[f0]); a0 = Avx512F.FusedMultiplyAdd(s, d0, a0); b0 = Avx512F.FusedMultiplyAdd(s, d1, b0);
            s = Vector512.Create(x0[f1]); a1 = Avx512F.FusedMultiplyAdd(s, d0, a1); b1 = Avx512F.FusedMultiplyAdd(s, d1, b1);
            s = Vector512.Create(x0[f2]); a2 = Avx512F.FusedMultiplyAdd(s, d0, a2); b2 = Avx512F.FusedMultiplyAdd(s, d1, b2);
            s = Vector512.Create(x0[f3]); a3 = Avx512F.FusedMultiplyAdd(s, d0, a3); b3 = Avx512F.FusedMultiplyAdd(s, d1, b3);
            s = Vector512.Create(x0[f4]); a4 = Avx512F.FusedMultiplyAdd(s, d0, a4); b4 = Avx512F.FusedMultiplyAdd(s, d1, b4);
            s = Vector512.Create(x0[f5]); a5 = Avx512F.FusedMultiplyAdd(s, d0, a5); b5 = Avx512F.FusedMultiplyAdd(s, d1, b5);
        }
        // tile row t = (even + odd) of tap t: 32 channels
        (a0 + c0).Store(tile); (b0 + e0).Store(tile + 16);
        (a1 + c1).Store(tile + 32); (b1 + e1).Store(tile + 48);
        (a2 + c2).Store(tile + 64); (b2 + e2).Store(tile + 80);
        (a3 + c3).Store(tile + 96); (b3 + e3).Store(tile + 112);
        (a4 + c4).Store(tile + 128); (b4 + e4).Store(tile + 144);
        (a5 + c5).Store(tile + 160); (b5 + e5).Store(tile + 176);
    }

    // tile: (16, 32), rows 0 .. 5 the taps (the rest unused) -> dw[r * ld + t] = tile[t, r] for r < 32, t < count
    /// <summary>Stores a channel tile into the partial dW, each channel's taps one masked store (two 16 x 16 transposes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreGradTile(float* tile, float* dw, int ld, int count)
    {
        var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
        Transpose16x16(tile, ChannelBlock, new MaskedColumns(dw, ld, mask));
        Transpose16x16(tile + 16, ChannelBlock, new MaskedColumns(dw + 16 * ld, ld, mask));
    }

    /// <summary>Column c to dst + c * ld, the lanes under the mask.</summary>
    private readonly struct MaskedColumns(float* dst, nint ld, Vector512<float> mask) : IColumnSink
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Column(int c, Vector512<float> v) => Avx512F.MaskStore(dst + c * ld, mask, v);
    }

    [ThreadStatic] private static int[]? t_gradOffsets;
}
