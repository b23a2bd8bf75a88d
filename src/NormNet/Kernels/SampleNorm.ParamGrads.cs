using System.Buffers;
using System.Runtime.CompilerServices;
using NormNet.Threading;

namespace NormNet.Kernels;

// The parameter gradients of single-value channels (LayerNorm; GroupNorm over (N, C)): a column reduction over rows.
public static unsafe partial class SampleNorm
{
    private const int ColumnBlock = 1024;
    private const long RowBlockElements = 1L << 18;
    private const int MaxRowBlocks = 16;

    // dy, x: (Rows, K); dgamma, dbeta: (G * K) accumulated.
    /// <summary>dgamma[c] += sum_r dy[r, c] * xhat[r, c]; dbeta[c] += sum_r dy[r, c]. Rows are cut into at most
    /// <see cref="MaxRowBlocks"/> blocks and columns into blocks of <see cref="ColumnBlock"/>, both from the shape alone;
    /// each (row block, column block) chunk sums its rows in order into its own double partials, and the partials are
    /// added in row-block order.</summary>
    private static void ElementwiseParamGrads<TS, TV>(ref Args a) where TS : ISimd<TV> where TV : struct
    {
        var shape = a.Shape;
        int channels = shape.Channels, k = shape.ChannelsPerGroup;
        int blocks = (int)Math.Clamp(shape.Elements / RowBlockElements, 1, Math.Min(MaxRowBlocks, shape.Rows));
        a.RowsPerBlock = (shape.Rows + blocks - 1) / blocks;
        a.RowBlocks = (shape.Rows + a.RowsPerBlock - 1) / a.RowsPerBlock;
        a.ColumnBlocks = (k + ColumnBlock - 1) / ColumnBlock;
        int size = a.RowBlocks * 2 * channels;
        double[] sums = ArrayPool<double>.Shared.Rent(size);
        try
        {
            Array.Clear(sums, 0, size);
            fixed (double* ps = sums)
            {
                a.BlockSums = ps;
                fixed (Args* pa = &a) Parallelism.For(a.RowBlocks * a.ColumnBlocks, pa, &ParamGradChunk<TS, TV>);
                for (int c = 0; c < channels; c++)
                {
                    double sumDyXhat = 0, sumDy = 0;
                    for (int b = 0; b < a.RowBlocks; b++)
                    {
                        sumDyXhat += ps[b * 2 * channels + c];
                        sumDy += ps[b * 2 * channels + channels + c];
                    }
                    if (a.DGamma != null) a.DGamma[c] += (float)sumDyXhat;
                    if (a.DBeta != null) a.DBeta[c] += (float)sumDy;
                }
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(sums);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ParamGradChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        var shape = a.Shape;
        int rowBlock = chunk / a.ColumnBlocks, column = chunk % a.ColumnBlocks * ColumnBlock;
        int k = shape.ChannelsPerGroup, channels = shape.Channels, width = Math.Min(ColumnBlock, k - column);
        int first = rowBlock * a.RowsPerBlock, end = Math.Min(shape.Rows, first + a.RowsPerBlock);
        double* sums = a.BlockSums + (long)rowBlock * 2 * channels;
        for (int r = first; r < end; r++)
        {
            double m = a.Mean[r];
            float hi = (float)m, lo = (float)(m - hi);
            long o = (long)r * k + column;
            int c = r % shape.Groups * k + column;
            // dgamma += dy * (x - mean) * invstd; dbeta += dy
            SampleNormLoops.RowAccumulateParamGrad<TS, TV>(a.Dy + o, a.X + o, width, hi, lo, (float)a.Invstd[r],
                a.DGamma == null ? null : sums + c, a.DBeta == null ? null : sums + channels + c);
        }
    }
}
