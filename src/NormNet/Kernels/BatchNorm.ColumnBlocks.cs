using System.Runtime.CompilerServices;
using NormNet.Threading;

namespace NormNet.Kernels;

// (M, C) inputs with few rows (M <= MaxColumnBlockRows), such as (256, 1024) or the paper's (60, 100): the statistics
// (or gradient sums) of each block of ColumnBlock channels are taken over all rows in one chunk, with the block's
// M x 64 floats (at most 256 KB) in L2 for the second pass, and the block writes its channels' final constants:
// no partials and no merge. The normalize (or apply) pass then runs over whole rows, as for row chunks: writing a
// column block row by row with a power-of-two row stride measured 2.7x slower (the stores alias the next row's loads
// in the low 12 address bits). Blocks depend on the shape only, so results are bit-identical for any thread count.
public static unsafe partial class BatchNorm
{
    /// <summary>Channels per column block.</summary>
    private const int ColumnBlock = 64;

    /// <summary>Inputs with at most this many rows go by column blocks.</summary>
    private const int MaxColumnBlockRows = 1024;

    private static bool UsesColumnBlocks(int rows) => rows <= MaxColumnBlockRows;

    /// <summary>Runs <paramref name="body"/> over the column blocks: inline for small inputs, else in parallel.</summary>
    private static void ColumnBlocks(ref Args a, delegate*<void*, int, void> body)
    {
        int blocks = (a.C + ColumnBlock - 1) / ColumnBlock;
        fixed (Args* pa = &a)
        {
            if ((long)a.N * a.C < MinParallelElements)
                for (int b = 0; b < blocks; b++) body(pa, b);
            else Parallelism.For(blocks, pa, body);
        }
    }

    /// <summary>Statistics of one column block, and its channels' constants in a.Hi, a.Scale, a.Shift.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnStatsChunk<TS, TV>(void* state, int block) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        int j0 = block * ColumnBlock, cb = Math.Min(ColumnBlock, a.C - j0), n = a.N, ld = a.C;
        float* pivot = stackalloc float[ColumnBlock], hi = stackalloc float[ColumnBlock], lo = stackalloc float[ColumnBlock];
        double* mean = stackalloc double[ColumnBlock], m2 = stackalloc double[ColumnBlock];
        BlockStatistics<TS, TV>(a.X + j0, ld, n, cb, pivot, hi, lo, mean, m2);
        for (int j = 0; j < cb; j++)
            ForwardConstants(ref a, j0 + j, mean[j], m2[j], out a.Hi[j0 + j], out a.Scale[j0 + j], out a.Shift[j0 + j]);
    }

    /// <summary>Gradient sums of one column block (a.Hi, a.Lo hold the mean), and its channels' constants in
    /// a.Scale (k), a.Q, a.P; dgamma and dbeta accumulated.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnGradSumsChunk<TS, TV>(void* state, int block) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        int j0 = block * ColumnBlock, cb = Math.Min(ColumnBlock, a.C - j0), ld = a.C;
        double* sumDy = stackalloc double[ColumnBlock], sumDyD = stackalloc double[ColumnBlock];
        new Span<double>(sumDy, cb).Clear();
        new Span<double>(sumDyD, cb).Clear();
        // sum(dy), sum(dy * (x - mean))
        if (!a.Frozen || a.DGamma != null || a.DBeta != null)
            BatchNormLoops.RowsSumGrad<TS, TV>(a.Dy + j0, a.X + j0, ld, a.N, cb, a.Hi + j0, a.Lo + j0, sumDy, sumDyD);
        for (int j = 0; j < cb; j++)
            BackwardConstants(ref a, j0 + j, sumDy[j], sumDyD[j], a.Lo[j0 + j], out a.Scale[j0 + j], out a.Q[j0 + j], out a.P[j0 + j]);
    }
}
