using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormNet.Kernels;

public static unsafe partial class DirectConvolution
{
    /// <summary>Padded rows at most this wide, at stride 1 or 2, are gathered by <see cref="GatherPaddedRows"/> (two 16-wide vectors).</summary>
    private const int PaddedRowVectors = 32;

    // x: (C, H, W) -> xp: (C, s, s, Rows, Cols), xp[c, a, b, i, j] = x[c, s*i + a - p, s*j + b - p] (0 outside), and zeros after it up to length
    /// <summary>Copies image x into its zero-padded stride-phase planes (<see cref="PhaseLayout"/>): with AVX-512, at stride 1
    /// or 2 with padded rows of at most 32, every plane row written whole in one pass (<see cref="GatherPaddedRows"/>); else
    /// the planes cleared, then each input row copied (stride 1), split into its even and odd elements (stride 2) or taken
    /// element by element.</summary>
    private static void Gather(float* x, ConvGeometry g, PhaseLayout l, float* xp, int length)
    {
        int p = g.Padding, s = l.S, planes = g.C * s * s * l.Plane;
        if (Avx512F.IsSupported && s <= 2 && g.W + 2 * p <= PaddedRowVectors)
        {
            GatherPaddedRows(x, g, l, xp);
            new Span<float>(xp + planes, length - planes).Clear();
            return;
        }
        new Span<float>(xp, length).Clear();
        for (int c = 0; c < g.C; c++)
            for (int r = 0; r < g.H; r++)
            {
                float* src = x + ((long)c * g.H + r) * g.W;
                int pr = r + p;
                float* rows = xp + (long)(c * s + pr % s) * s * l.Plane + pr / s * l.Cols;
                if (s == 1)
                {
                    new ReadOnlySpan<float>(src, g.W).CopyTo(new Span<float>(rows + p, g.W));
                    continue;
                }
                if (s == 2)
                {
                    // input column col is padded column col + p: plane (col + p) mod 2, column (col + p) / 2; four of each
                    // parity per shuffle (measured, 3x3, batch 16, 1 thread, best of 60: 16 to 32 channels
                    // from 28x28 591-594 -> 418-419 us, 32 to 64 from 14x14 517-520 -> 418-421 us against one element at a time)
                    Shuffles.DeinterleaveRow(src, g.W, rows + (long)(p % 2) * l.Plane + p / 2, rows + (long)((p + 1) % 2) * l.Plane + (p + 1) / 2);
                    continue;
                }
                // plane b holds the padded columns pc = s*j + b: input columns col0, col0 + s, ... from column j0 = (col0 + p) / s
                for (int b = 0; b < s; b++)
                {
                    int col0 = ((b - p) % s + s) % s;
                    float* dst = rows + (long)b * l.Plane + (col0 + p) / s;
                    for (int col = col0, j = 0; col < g.W; col += s, j++) dst[j] = src[col];
                }
            }
    }

    // x: (C, H, W) -> the phase planes of Gather, stride 1 or 2, W + 2p <= 32
    /// <summary>Each padded row (its p zeros, the input row, its p zeros, then zeros to 32) is built in two registers by loads
    /// masked to the input's lanes (nothing outside the row is read; padding rows load nothing), then stored as the plane
    /// row it is at stride 1, or split by two permutes into its even and odd columns, the rows of planes (a, 0) and (a, 1),
    /// at stride 2. Stores are masked to the plane's row width, so every element of the planes is written once and nothing
    /// past them. Measured, 3x3, batch 16, 1 thread: the clear and the row copies had taken 15-30% of the 16 -> 32 and
    /// 32 -> 64 stride-2 forwards. The source and plane rows are then stepped by pointers, two padded rows per pass at
    /// stride 2; each row's address had been computed afresh (multiplications and, before that, two divisions), which left
    /// the gather bound by its own instructions (the same 1.3-1.4 us an image with the input in cache or not). Alone: 1.4-2.3
    /// -> 0.6-1.0 us an image for the resnet's layers; the layers, batch 16, 1 thread, 3 alternations: 64->64 on 7x7
    /// 287-298 -> 278-280 us, 32->32 on 14x14 286-288 -> 272-278, the stride-2 32->64 158-163 -> 147-148 and 16->32
    /// 162-164 -> 150-152, 16->16 on 28x28 339-342 -> 327-332.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GatherPaddedRows(float* x, ConvGeometry g, PhaseLayout l, float* xp)
    {
        int p = g.Padding, s = l.S, w = g.W, cols = l.Cols;
        var index = Vector512<int>.Indices;
        // lanes k and 16 + k of a padded row that hold input: p <= lane < p + W
        var inputLo = Between(index, p, p + w).AsSingle();
        var inputHi = Between(index + Vector512.Create(16), p, p + w).AsSingle();
        var store = Vector512.LessThan(index, Vector512.Create(cols)).AsSingle();
        var storeHi = Vector512.LessThan(index, Vector512.Create(cols - 16)).AsSingle();
        var evens = Shuffles.EvenOf32;
        var odds = Shuffles.OddOf32;
        // pointers stepped row by row (address arithmetic per row, with its multiplications, had cost as much as the copies)
        for (int c = 0; c < g.C; c++)
        {
            // the input row of padded row pr is at src, lane 0 being padded column 0 (input column -p)
            float* src = x + (long)c * g.H * w - p;
            float* planes = xp + (long)c * s * s * l.Plane;
            if (s == 1)
            {
                for (int pr = 0; pr < l.Rows; pr++, planes += cols)
                {
                    var (lo, hi) = PaddedRow(ref src, pr - p, g.H, w, inputLo, inputHi);
                    Avx512F.MaskStore(planes, store, lo);
                    if (cols > 16) Avx512F.MaskStore(planes + 16, storeHi, hi);
                }
                continue;
            }
            // stride 2: padded row pr is row pr / 2 of planes (pr mod 2, 0) and (pr mod 2, 1), which hold its even and odd columns
            float* even = planes, odd = planes + 2 * l.Plane;
            for (int i = 0; i < l.Rows; i++, even += cols, odd += cols)
            {
                var (lo, hi) = PaddedRow(ref src, 2 * i - p, g.H, w, inputLo, inputHi);
                Avx512F.MaskStore(even, store, Avx512F.PermuteVar16x32x2(lo, evens, hi));
                Avx512F.MaskStore(even + l.Plane, store, Avx512F.PermuteVar16x32x2(lo, odds, hi));
                (lo, hi) = PaddedRow(ref src, 2 * i + 1 - p, g.H, w, inputLo, inputHi);
                Avx512F.MaskStore(odd, store, Avx512F.PermuteVar16x32x2(lo, evens, hi));
                Avx512F.MaskStore(odd + l.Plane, store, Avx512F.PermuteVar16x32x2(lo, odds, hi));
            }
        }
    }

    // -> the padded row whose input row is r (zeros outside 0 <= r < h): its 32 lanes in two registers; src steps past an input row
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> Lo, Vector512<float> Hi) PaddedRow(ref float* src, int r, int h, int w, Vector512<float> inputLo, Vector512<float> inputHi)
    {
        if ((uint)r >= (uint)h) return (Vector512<float>.Zero, Vector512<float>.Zero);
        var lo = Avx512F.MaskLoad(src, inputLo, Vector512<float>.Zero);
        var hi = Avx512F.MaskLoad(src + 16, inputHi, Vector512<float>.Zero);
        src += w;
        return (lo, hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Between(Vector512<int> lanes, int from, int to) =>
        Vector512.GreaterThanOrEqual(lanes, Vector512.Create(from)) & Vector512.LessThan(lanes, Vector512.Create(to));
}
