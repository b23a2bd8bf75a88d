using System.Runtime.CompilerServices;
using System.Buffers;
using NormNet.Threading;

namespace NormNet.Kernels;

// Channels-last and (N, C) inputs: x is (M, C) row-major. Vectorized across channels; rows are split into
// fixed chunks (chosen from the shape), each reduced into per-channel partials, merged in chunk order.
// Inputs with few rows go by column blocks instead (BatchNorm.ColumnBlocks.cs).
public static unsafe partial class BatchNorm
{
    private const int MaxRowChunks = 64;

    /// <summary>Rows per chunk and per cache-resident sub-block, from the shape alone.</summary>
    private static int RowChunks(int rows, int channels, out int rowsPerChunk, out int subRows)
    {
        long elements = (long)rows * channels;
        int chunks = elements < MinParallelElements ? 1 : (int)Math.Min(MaxRowChunks, (elements + 65535) / 65536);
        chunks = Math.Min(chunks, rows);
        rowsPerChunk = (rows + chunks - 1) / chunks;
        subRows = Math.Clamp(131072 / channels, 16, 4096); // up to 512 KB: the second pass finds the block in L2
        return (rows + rowsPerChunk - 1) / rowsPerChunk;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsTrainingForward<TS, TV>(ref Args a) where TS : ISimd<TV> where TV : struct
    {
        int c = a.C, chunks = RowChunks(a.N, c, out a.RowsPerChunk, out a.SubRows);
        bool columns = UsesColumnBlocks(a.N);
        int partials = columns ? 0 : chunks * c;
        double[] parts = ArrayPool<double>.Shared.Rent(4 * partials + 1);
        float[] scratch = ArrayPool<float>.Shared.Rent(3 * partials + 3 * c); // per chunk: pivot, hi, lo; shared: hi, scale, shift
        try
        {
            fixed (double* pp = parts)
            fixed (float* ps = scratch)
            {
                a.PartA = pp;
                a.PartB = pp + partials;
                a.Scratch = ps;
                a.Hi = ps + 3 * partials;
                a.Scale = a.Hi + c;
                a.Shift = a.Scale + c;
                if (columns) ColumnBlocks(ref a, &ColumnStatsChunk<TS, TV>);
                else
                {
                    fixed (Args* pa = &a) Parallelism.For(chunks, pa, &RowsStatsChunk<TS, TV>);
                    MergeRowChunkStatistics(ref a, chunks);
                }
                fixed (Args* pa = &a) Parallelism.For(chunks, pa, &RowsNormalizeChunk<TS, TV>);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
            ArrayPool<double>.Shared.Return(parts);
        }
    }

    /// <summary>Merges the row chunks' (count, mean, M2) in chunk order (Chan et al.) into chunk 0's partials, then
    /// writes each channel's statistics and constants: mean += delta * nb / n'; M2 += M2_b + delta^2 * n * nb / n',
    /// with the weights shared by all channels.</summary>
    private static void MergeRowChunkStatistics(ref Args a, int chunks)
    {
        int c = a.C;
        double* m = a.PartA, m2 = a.PartB;
        long n = Math.Min(a.RowsPerChunk, a.N);
        for (int k = 1; k < chunks; k++)
        {
            long nb = Math.Min(a.RowsPerChunk, a.N - (long)k * a.RowsPerChunk), total = n + nb;
            double wNew = (double)nb / total, wCross = (double)n * nb / total;
            double* mb = a.PartA + k * c, m2b = a.PartB + k * c;
            for (int j = 0; j < c; j++)
            {
                double delta = mb[j] - m[j];
                m[j] += delta * wNew;
                m2[j] += m2b[j] + delta * delta * wCross;
            }
            n = total;
        }
        for (int j = 0; j < c; j++) ForwardConstants(ref a, j, m[j], m2[j], out a.Hi[j], out a.Scale[j], out a.Shift[j]);
    }

    /// <summary>From channel j's mean and sum of squared deviations: the saved statistics, and the constants of
    /// y = (x - hi) * scale + shift, where hi is the mean rounded to float and shift = beta - lo * scale takes the
    /// rounding residue lo (so x - hi is exact for x near the mean).</summary>
    private static void ForwardConstants(ref Args a, int j, double mean, double m2, out float hi, out float scale, out float shift)
    {
        double v = m2 / a.N, inv = 1.0 / Math.Sqrt(v + a.Eps);
        a.Mean[j] = mean;
        a.Variance[j] = v;
        a.Invstd[j] = inv;
        hi = (float)mean;
        float lo = (float)(mean - hi);
        scale = (float)((a.Gamma == null ? 1.0 : a.Gamma[j]) * inv);
        shift = (float)((a.Beta == null ? 0.0 : a.Beta[j]) - (double)lo * scale);
    }

    /// <summary>From channel j's sum(dy) and sum(dy * (x - mean)): accumulates dgamma and dbeta, and gives the constants
    /// of dx = (x - hi) * q + (dy * k + p), with k = gamma * invstd, q = -k * invstd * mean(dy * xhat),
    /// p = -k * mean(dy) - lo * q (zero when frozen: dx = dy * k).</summary>
    private static void BackwardConstants(ref Args a, int j, double sumDy, double sumDyD, float lo, out float k, out float q, out float p)
    {
        double inv = a.Invstd[j], k2 = (a.Gamma == null ? 1.0 : a.Gamma[j]) * inv, sumDyXhat = sumDyD * inv;
        if (a.DGamma != null) a.DGamma[j] += (float)sumDyXhat;
        if (a.DBeta != null) a.DBeta[j] += (float)sumDy;
        k = (float)k2;
        if (a.Frozen)
        {
            q = 0f;
            p = 0f;
            return;
        }
        q = -(float)(k2 * inv * sumDyXhat / a.N);
        p = (float)(-(k2 * sumDy / a.N) - (double)lo * q);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsStatsChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        int c = a.C, chunks = (a.N + a.RowsPerChunk - 1) / a.RowsPerChunk;
        int r0 = chunk * a.RowsPerChunk, r1 = Math.Min(a.N, r0 + a.RowsPerChunk);
        double* mean = a.PartA + chunk * c, m2 = a.PartB + chunk * c;
        double* sumD = a.PartA + 2L * chunks * c + 2L * chunk * c, sumD2 = sumD + c;
        float* pivot = a.Scratch + 3 * chunk * c, hi = pivot + c, lo = hi + c;
        long n = 0;
        for (int r = r0; r < r1; r += a.SubRows)
        {
            int rows = Math.Min(a.SubRows, r1 - r);
            BlockStatistics<TS, TV>(a.X + (long)r * c, c, rows, c, pivot, hi, lo, sumD, sumD2);
            // Chan's merge of the sub-block's (rows, mean, M2) into the chunk's (n, mean, M2)
            double total = n + rows, wNew = rows / total, wCross = n * (double)rows / total;
            for (int j = 0; j < c; j++)
            {
                double mb = sumD[j], m2b = sumD2[j];
                if (n == 0)
                {
                    mean[j] = mb;
                    m2[j] = m2b;
                    continue;
                }
                double delta = mb - mean[j];
                mean[j] += delta * wNew;
                m2[j] += m2b + delta * delta * wCross;
            }
            n += rows;
        }
    }

    /// <summary>Per-channel mean and M2 (sum of squared deviations) of a block of rows (row r at x + r * ld), while the
    /// block sits in cache: mean_0 = pivot + sum(x - pivot) / rows with the first row as pivot, then the corrected
    /// second pass over d = x - mean_0: mean = mean_0 + sum(d) / rows, M2 = sum(d^2) - sum(d)^2 / rows.
    /// pivot, hi, lo are scratch of c floats.</summary>
    private static void BlockStatistics<TS, TV>(float* x, int ld, int rows, int c, float* pivot, float* hi, float* lo, double* mean, double* m2)
        where TS : ISimd<TV> where TV : struct
    {
        new Span<float>(x, c).CopyTo(new Span<float>(pivot, c));
        new Span<double>(mean, c).Clear();
        BatchNormLoops.RowsSumShifted<TS, TV>(x, ld, rows, c, pivot, mean);
        for (int j = 0; j < c; j++)
        {
            double m0 = pivot[j] + mean[j] / rows;
            hi[j] = (float)m0;
            lo[j] = (float)(m0 - hi[j]);
        }
        new Span<double>(mean, c).Clear();
        new Span<double>(m2, c).Clear();
        BatchNormLoops.RowsSumDeviations<TS, TV>(x, ld, rows, c, hi, lo, mean, m2);
        for (int j = 0; j < c; j++)
        {
            double sumD = mean[j];
            mean[j] = (double)hi[j] + lo[j] + sumD / rows;
            m2[j] = Math.Max(0, m2[j] - sumD * sumD / rows);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsNormalizeChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        int c = a.C, r0 = chunk * a.RowsPerChunk, r1 = Math.Min(a.N, r0 + a.RowsPerChunk);
        long o = (long)r0 * c;
        // y = (x - mean) * (gamma * invstd) + beta
        BatchNormLoops.RowsNormalize<TS, TV>(a.X + o, a.Y + o, c, r1 - r0, c, a.Hi, a.Scale, a.Shift, a.Stream);
        EndStreaming(a.Stream);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsBackward<TS, TV>(ref Args a) where TS : ISimd<TV> where TV : struct
    {
        int c = a.C, chunks = RowChunks(a.N, c, out a.RowsPerChunk, out a.SubRows);
        bool wantSums = !a.Frozen || a.DGamma != null || a.DBeta != null;
        double[] parts = ArrayPool<double>.Shared.Rent(2 * chunks * c);
        float[] scratch = ArrayPool<float>.Shared.Rent(5 * c); // hi, lo, k, q, p
        try
        {
            fixed (double* pp = parts)
            fixed (float* ps = scratch)
            {
                a.PartA = pp;
                a.PartB = pp + chunks * c;
                a.Hi = ps;
                a.Lo = a.Hi + c;
                a.Scale = a.Lo + c;
                a.Q = a.Scale + c;
                a.P = a.Q + c;
                for (int j = 0; j < c; j++)
                {
                    a.Hi[j] = (float)a.Mean[j];
                    a.Lo[j] = (float)(a.Mean[j] - a.Hi[j]);
                }
                fixed (Args* pa = &a)
                {
                    if (UsesColumnBlocks(a.N)) ColumnBlocks(ref a, &ColumnGradSumsChunk<TS, TV>);
                    else
                    {
                        if (wantSums) Parallelism.For(chunks, pa, &RowsGradSumsChunk<TS, TV>);
                        for (int j = 0; j < c; j++)
                        {
                            double sumDy = 0, sumDyD = 0;
                            if (wantSums)
                                for (int k = 0; k < chunks; k++)
                                {
                                    sumDy += a.PartA[k * c + j];
                                    sumDyD += a.PartB[k * c + j];
                                }
                            BackwardConstants(ref a, j, sumDy, sumDyD, a.Lo[j], out a.Scale[j], out a.Q[j], out a.P[j]);
                        }
                    }
                    Parallelism.For(chunks, pa, &RowsApplyGradChunk<TS, TV>);
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scratch);
            ArrayPool<double>.Shared.Return(parts);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsGradSumsChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        int c = a.C, r0 = chunk * a.RowsPerChunk, r1 = Math.Min(a.N, r0 + a.RowsPerChunk);
        double* sumDy = a.PartA + chunk * c, sumDyD = a.PartB + chunk * c;
        new Span<double>(sumDy, c).Clear();
        new Span<double>(sumDyD, c).Clear();
        BatchNormLoops.RowsSumGrad<TS, TV>(a.Dy + (long)r0 * c, a.X + (long)r0 * c, c, r1 - r0, c, a.Hi, a.Lo, sumDy, sumDyD);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsApplyGradChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        int c = a.C, r0 = chunk * a.RowsPerChunk, r1 = Math.Min(a.N, r0 + a.RowsPerChunk);
        long o = (long)r0 * c;
        if (a.Frozen) BatchNormLoops.RowsScaleShift<TS, TV>(a.Dy + o, a.Dx + o, c, r1 - r0, c, a.Scale, a.P, a.Stream); // dx = dy * k (P = 0)
        else BatchNormLoops.RowsApplyGrad<TS, TV>(a.Dy + o, a.X + o, a.Dx + o, c, r1 - r0, c, a.Hi, a.Scale, a.Q, a.P, a.Stream);
        EndStreaming(a.Stream);
    }
}
