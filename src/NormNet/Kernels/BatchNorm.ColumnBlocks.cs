using System.Runtime.CompilerServices;
using NormNet.Threading;

namespace NormNet.Kernels;

// (M, C) inputs with few rows (M <= MaxColumnBlockRows), such as (256, 1024) or the paper's (60, 100): each chunk is a
// block of ColumnBlock channels taken through every pass (statistics, constants, normalize; or gradient sums,
// constants, apply) while its M x 64 floats (at most 256 KB) stay in L2. Channels are independent, so there is one
// parallel phase and no merge between chunks; the blocks depend on the shape only, so results are bit-identical for
// any thread count. Measured on (256, 1024): row chunks spent a third of the forward in the serial merge of 4 x 1024
// partial statistics and in waking the second thread twice.
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnForwardChunk<TS, TV>(void* state, int block) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        int j0 = block * ColumnBlock, cb = Math.Min(ColumnBlock, a.C - j0), n = a.N, ld = a.C;
        float* x = a.X + j0;
        float* pivot = stackalloc float[ColumnBlock], hi = stackalloc float[ColumnBlock], lo = stackalloc float[ColumnBlock];
        float* scale = stackalloc float[ColumnBlock], shift = stackalloc float[ColumnBlock];
        double* sum = stackalloc double[ColumnBlock], sum2 = stackalloc double[ColumnBlock];
        // mean_0 = pivot + sum(x - pivot) / n with the first row as pivot
        new Span<float>(x, cb).CopyTo(new Span<float>(pivot, cb));
        new Span<double>(sum, cb).Clear();
        BatchNormLoops.RowsSumShifted<TS, TV>(x, ld, n, cb, pivot, sum);
        for (int j = 0; j < cb; j++)
        {
            double m0 = pivot[j] + sum[j] / n;
            hi[j] = (float)m0;
            lo[j] = (float)(m0 - hi[j]);
        }
        // corrected two-pass: d = x - mean_0; mean = mean_0 + sum(d) / n; M2 = sum(d^2) - sum(d)^2 / n
        new Span<double>(sum, cb).Clear();
        new Span<double>(sum2, cb).Clear();
        BatchNormLoops.RowsSumDeviations<TS, TV>(x, ld, n, cb, hi, lo, sum, sum2);
        for (int j = 0; j < cb; j++)
        {
            double mean = (double)hi[j] + lo[j] + sum[j] / n, m2 = Math.Max(0, sum2[j] - sum[j] * sum[j] / n);
            ForwardConstants(ref a, j0 + j, mean, m2, out hi[j], out scale[j], out shift[j]);
        }
        // y = (x - mean) * (gamma * invstd) + beta
        BatchNormLoops.RowsNormalize<TS, TV>(x, a.Y + j0, ld, n, cb, hi, scale, shift, a.Stream);
        EndStreaming(a.Stream);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ColumnBackwardChunk<TS, TV>(void* state, int block) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        int j0 = block * ColumnBlock, cb = Math.Min(ColumnBlock, a.C - j0), n = a.N, ld = a.C;
        float* x = a.X + j0, dy = a.Dy + j0, dx = a.Dx + j0;
        float* hi = stackalloc float[ColumnBlock], lo = stackalloc float[ColumnBlock];
        float* k = stackalloc float[ColumnBlock], q = stackalloc float[ColumnBlock], p = stackalloc float[ColumnBlock];
        double* sumDy = stackalloc double[ColumnBlock], sumDyD = stackalloc double[ColumnBlock];
        new Span<double>(sumDy, cb).Clear();
        new Span<double>(sumDyD, cb).Clear();
        for (int j = 0; j < cb; j++)
        {
            hi[j] = (float)a.Mean[j0 + j];
            lo[j] = (float)(a.Mean[j0 + j] - hi[j]);
        }
        // sum(dy), sum(dy * (x - mean))
        if (!a.Frozen || a.DGamma != null || a.DBeta != null)
            BatchNormLoops.RowsSumGrad<TS, TV>(dy, x, ld, n, cb, hi, lo, sumDy, sumDyD);
        for (int j = 0; j < cb; j++)
            BackwardConstants(ref a, j0 + j, sumDy[j], sumDyD[j], lo[j], out k[j], out q[j], out p[j]);
        // dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)); frozen: dx = dy * gamma * invstd
        if (a.Frozen) BatchNormLoops.RowsScaleShift<TS, TV>(dy, dx, ld, n, cb, k, p, a.Stream);
        else BatchNormLoops.RowsApplyGrad<TS, TV>(dy, x, dx, ld, n, cb, hi, k, q, p, a.Stream);
        EndStreaming(a.Stream);
    }
}
