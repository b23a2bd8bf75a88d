using System.Runtime.CompilerServices;
using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>
/// Per-sample normalization kernels, the arithmetic of GroupNorm, LayerNorm and InstanceNorm: stateless functions
/// over spans, each row (one group of one sample, <see cref="SampleNormShape.RowLength"/> contiguous values)
/// normalized with its own mean and biased variance, then a per-channel (or, for LayerNorm, per-element) affine.
/// </summary>
/// <remarks>
/// <para>Statistics accumulate in double (float vector blocks summed into double) with a corrected second pass over
/// deviations from the mean, as <see cref="BatchNorm"/> does. Rows are split into chunks of whole rows chosen from
/// the shape alone; parameter gradients are merged in a fixed order, so results are bit-identical for any thread
/// count. A single very long row runs on one thread.</para>
/// <para>Gamma/beta spans may be empty (no affine: gamma = 1, beta = 0); dgamma/dbeta spans may be empty (not
/// wanted). Parameter gradients are accumulated (+=), as PyTorch accumulates <c>.grad</c>.</para>
/// </remarks>
public static unsafe partial class SampleNorm
{
    private const long MinParallelElements = 65536;
    private const long ChunkElements = 32768;
    private const int MinElementwiseRows = 16;

    // x, y: (N, G, K, S); gamma, beta: (G * K) or empty; mean, invstd, variance (biased): (N * G), written.
    /// <summary>Forward: per row (n, g) the mean and biased variance over its K * S values, then
    /// y = (x - mean) * invstd * gamma[g * K + k] + beta[g * K + k] with invstd = 1 / sqrt(var + eps).</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        SampleNormShape shape, double eps, Span<float> y, Span<double> mean, Span<double> invstd, Span<double> variance)
        => Forward(SimdDispatch.Widest, x, gamma, beta, shape, eps, y, mean, invstd, variance);

    /// <summary>Forward at <paramref name="width"/> (tests run every width the machine supports).</summary>
    internal static void Forward(SimdWidth width, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        SampleNormShape shape, double eps, Span<float> y, Span<double> mean, Span<double> invstd, Span<double> variance)
        => SimdDispatch.Run(width, new ForwardOp(x, gamma, beta, shape, eps, y, mean, invstd, variance));

    private readonly ref struct ForwardOp(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        SampleNormShape shape, double eps, Span<float> y, Span<double> mean, Span<double> invstd, Span<double> variance) : ISimdOperation
    {
        private readonly ReadOnlySpan<float> _x = x, _gamma = gamma, _beta = beta;
        private readonly Span<float> _y = y;
        private readonly Span<double> _mean = mean, _invstd = invstd, _variance = variance;

        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct =>
            Forward<TS, TV>(_x, _gamma, _beta, shape, eps, _y, _mean, _invstd, _variance);
    }

    // dy, x, dx: (N, G, K, S); gamma: (G * K) or empty; mean, invstd: (N * G) saved by Forward; dgamma, dbeta: (G * K) accumulated, or empty.
    /// <summary>Backward from the saved mean and invstd (x-hat recomputed): with dxhat = dy * gamma,
    /// dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) over the row; dgamma += sum(dy * xhat);
    /// dbeta += sum(dy) over every row and position of the channel.</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, SampleNormShape shape, Span<float> dx, Span<float> dgamma, Span<float> dbeta)
        => Backward(SimdDispatch.Widest, dy, x, gamma, mean, invstd, shape, dx, dgamma, dbeta);

    /// <summary>Backward at <paramref name="width"/> (tests run every width the machine supports).</summary>
    internal static void Backward(SimdWidth width, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, SampleNormShape shape, Span<float> dx, Span<float> dgamma, Span<float> dbeta)
        => SimdDispatch.Run(width, new BackwardOp(dy, x, gamma, mean, invstd, shape, dx, dgamma, dbeta));

    private readonly ref struct BackwardOp(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, SampleNormShape shape, Span<float> dx, Span<float> dgamma, Span<float> dbeta) : ISimdOperation
    {
        private readonly ReadOnlySpan<float> _dy = dy, _x = x, _gamma = gamma;
        private readonly ReadOnlySpan<double> _mean = mean, _invstd = invstd;
        private readonly Span<float> _dx = dx, _dgamma = dgamma, _dbeta = dbeta;

        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct =>
            Backward<TS, TV>(_dy, _x, _gamma, _mean, _invstd, shape, _dx, _dgamma, _dbeta);
    }

    internal static void Forward<TS, TV>(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        SampleNormShape shape, double eps, Span<float> y, Span<double> mean, Span<double> invstd, Span<double> variance)
        where TS : ISimd<TV> where TV : struct
    {
        shape.Validate();
        shape.CheckLength(x.Length, nameof(x), shape.Elements);
        shape.CheckLength(y.Length, nameof(y), shape.Elements);
        shape.CheckOptional(gamma.Length, nameof(gamma));
        shape.CheckOptional(beta.Length, nameof(beta));
        shape.CheckLength(mean.Length, nameof(mean), shape.Rows);
        shape.CheckLength(invstd.Length, nameof(invstd), shape.Rows);
        shape.CheckLength(variance.Length, nameof(variance), shape.Rows);
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be non-negative.");
        fixed (float* px = x, py = y, pg = gamma, pb = beta)
        fixed (double* pm = mean, pi = invstd, pv = variance)
        {
            var args = new Args
            {
                X = px, Y = py, Gamma = gamma.IsEmpty ? null : pg, Beta = beta.IsEmpty ? null : pb,
                Mean = pm, Invstd = pi, Variance = pv, Eps = eps, Shape = shape,
            };
            int chunks = RowChunks(shape, out args.RowsPerChunk);
            Parallelism.For(chunks, &args, &ForwardChunk<TS, TV>);
        }
    }

    internal static void Backward<TS, TV>(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, SampleNormShape shape, Span<float> dx, Span<float> dgamma, Span<float> dbeta)
        where TS : ISimd<TV> where TV : struct
    {
        shape.Validate();
        shape.CheckLength(dy.Length, nameof(dy), shape.Elements);
        shape.CheckLength(x.Length, nameof(x), shape.Elements);
        shape.CheckLength(dx.Length, nameof(dx), shape.Elements);
        shape.CheckOptional(gamma.Length, nameof(gamma));
        shape.CheckOptional(dgamma.Length, nameof(dgamma));
        shape.CheckOptional(dbeta.Length, nameof(dbeta));
        shape.CheckLength(mean.Length, nameof(mean), shape.Rows);
        shape.CheckLength(invstd.Length, nameof(invstd), shape.Rows);
        bool wantParams = !dgamma.IsEmpty || !dbeta.IsEmpty;
        // Inner > 1: the per-(row, channel) sums of the dx pass are kept and reduced into dgamma/dbeta afterwards.
        // Inner = 1: each chunk sums its rows' per-element parameter gradients in float while the rows are in cache, at
        // least 16 rows (so the chunk sums take at most 1/8 of the input's size) and at most a float block of them.
        bool planar = shape.Inner > 1;
        int chunks = RowChunks(shape, out int rowsPerChunk);
        if (!planar)
        {
            rowsPerChunk = Math.Clamp(rowsPerChunk, MinElementwiseRows, BatchNormLoops.Block);
            chunks = (shape.Rows + rowsPerChunk - 1) / rowsPerChunk;
        }
        double[]? partials = planar && wantParams ? ThreadScratch.Get(ref t_partials, 2 * shape.Rows * shape.ChannelsPerGroup) : null;
        int sumsLength = !planar && wantParams ? chunks * 2 * shape.Channels : 0;
        float[]? sums = sumsLength > 0 ? ThreadScratch.Get(ref t_sums, sumsLength) : null;
        if (sums is not null) Array.Clear(sums, 0, sumsLength);
        fixed (float* pdy = dy, px = x, pdx = dx, pg = gamma, pdg = dgamma, pdb = dbeta)
        fixed (double* pm = mean, pi = invstd, pp = partials)
        fixed (float* ps = sums)
        {
            var args = new Args
            {
                Dy = pdy, X = px, Dx = pdx, Gamma = gamma.IsEmpty ? null : pg,
                DGamma = dgamma.IsEmpty ? null : pdg, DBeta = dbeta.IsEmpty ? null : pdb,
                Mean = pm, Invstd = pi, Partials = pp, ChunkSums = ps, Shape = shape, RowsPerChunk = rowsPerChunk,
            };
            Parallelism.For(chunks, &args, &BackwardChunk<TS, TV>);
            if (!wantParams) return;
            if (planar) ReducePartials(ref args);
            else ReduceChunkSums(ref args, chunks);
        }
    }

    [ThreadStatic] private static double[]? t_partials, t_totals;
    [ThreadStatic] private static float[]? t_sums;

    /// <summary>Whole rows per chunk, at least ~32K elements each; one chunk for small inputs.</summary>
    private static int RowChunks(SampleNormShape shape, out int rowsPerChunk)
    {
        if (shape.Elements < MinParallelElements)
        {
            rowsPerChunk = shape.Rows;
            return 1;
        }
        rowsPerChunk = (int)Math.Max(1, (ChunkElements + shape.RowLength - 1) / shape.RowLength);
        return (shape.Rows + rowsPerChunk - 1) / rowsPerChunk;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        var shape = a.Shape;
        int first = chunk * a.RowsPerChunk, end = Math.Min(shape.Rows, first + a.RowsPerChunk);
        int k = shape.ChannelsPerGroup, s = shape.Inner;
        long length = shape.RowLength;
        for (int r = first; r < end; r++)
        {
            float* xr = a.X + r * length, yr = a.Y + r * length;
            // mean = pivot + sum(x - pivot) / L, then the corrected second pass over d = x - mean:
            // mean += sum(d) / L; var = (sum(d^2) - sum(d)^2 / L) / L
            float pivot = xr[0];
            double m = pivot + BatchNormLoops.PlaneSumShifted<TS, TV>(xr, length, pivot) / length;
            var (sumD, sumD2) = BatchNormLoops.PlaneSumDeviations<TS, TV>(xr, length, (float)m, (float)(m - (float)m));
            m += sumD / length;
            double v = Math.Max(0, (sumD2 - sumD * sumD / length) / length), inv = 1.0 / Math.Sqrt(v + a.Eps);
            a.Mean[r] = m;
            a.Variance[r] = v;
            a.Invstd[r] = inv;
            float hi = (float)m, lo = (float)(m - hi);
            int c0 = r % shape.Groups * k;
            if (s == 1 && a.Gamma != null)
            {
                // y = (x - mean) * invstd * gamma[c] + beta[c], gamma and beta read per element
                SampleNormLoops.RowNormalizeAffine<TS, TV>(xr, yr, length, hi, lo, (float)inv, a.Gamma + c0, a.Beta == null ? null : a.Beta + c0);
                continue;
            }
            // y = (x - mean) * (invstd * gamma[c]) + beta[c], one channel's run of S values at a time
            for (int j = 0; j < k; j++)
            {
                float scale = (float)(inv * (a.Gamma == null ? 1.0 : a.Gamma[c0 + j]));
                float shift = a.Beta == null ? 0f : a.Beta[c0 + j];
                BatchNormLoops.PlaneNormalize<TS, TV>(xr + (long)j * s, yr + (long)j * s, s, hi, lo, scale, shift);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        var shape = a.Shape;
        int first = chunk * a.RowsPerChunk, end = Math.Min(shape.Rows, first + a.RowsPerChunk);
        long length = shape.RowLength;
        for (int r = first; r < end; r++)
        {
            long offset = r * length;
            double m = a.Mean[r], inv = a.Invstd[r];
            float hi = (float)m, lo = (float)(m - hi);
            if (shape.Inner > 1) PlanarRowBackward<TS, TV>(ref a, r, offset, hi, lo, inv);
            else ElementwiseRowBackward<TS, TV>(ref a, r, offset, hi, lo, inv, a.ChunkSums == null ? null : a.ChunkSums + (long)chunk * 2 * shape.Channels);
        }
    }

    /// <summary>One row whose channels hold S &gt; 1 values each: per channel sum(dy) and sum(dy * xhat) (kept for the
    /// parameter gradients), then dx = k * dy - c1 - (x - mean) * c2 per channel with k = invstd * gamma[c].</summary>
    private static void PlanarRowBackward<TS, TV>(ref Args a, int r, long offset, float hi, float lo, double inv)
        where TS : ISimd<TV> where TV : struct
    {
        var shape = a.Shape;
        int kc = shape.ChannelsPerGroup, s = shape.Inner, c0 = r % shape.Groups * kc;
        double length = shape.RowLength, sumDxhat = 0, sumDxhatXhat = 0;
        for (int j = 0; j < kc; j++)
        {
            long o = offset + (long)j * s;
            var (sumDy, sumDyD) = BatchNormLoops.PlaneSumGrad<TS, TV>(a.Dy + o, a.X + o, s, hi, lo);
            double g = a.Gamma == null ? 1.0 : a.Gamma[c0 + j], sumDyXhat = sumDyD * inv;
            // dxhat = dy * gamma: sum(dxhat) and sum(dxhat * xhat) over the row
            sumDxhat += g * sumDy;
            sumDxhatXhat += g * sumDyXhat;
            if (a.Partials != null)
            {
                a.Partials[2 * ((long)r * kc + j)] = sumDyXhat;
                a.Partials[2 * ((long)r * kc + j) + 1] = sumDy;
            }
        }
        // dx = invstd * (dxhat - sum(dxhat) / L - xhat * sum(dxhat * xhat) / L)
        float c1 = (float)(inv * sumDxhat / length), c2 = (float)(inv * inv * sumDxhatXhat / length);
        for (int j = 0; j < kc; j++)
        {
            long o = offset + (long)j * s;
            float k = (float)(inv * (a.Gamma == null ? 1.0 : a.Gamma[c0 + j]));
            BatchNormLoops.PlaneApplyGrad<TS, TV>(a.Dy + o, a.X + o, a.Dx + o, s, hi, lo, k, c1, c2);
        }
    }

    /// <summary>One row of single-value channels (LayerNorm; GroupNorm over (N, C)): gamma is read per element; the row's
    /// parameter gradients go into the chunk's float sums (dgamma at <paramref name="sums"/>, dbeta C further), if wanted.</summary>
    private static void ElementwiseRowBackward<TS, TV>(ref Args a, int r, long offset, float hi, float lo, double inv, float* sums)
        where TS : ISimd<TV> where TV : struct
    {
        var shape = a.Shape;
        long length = shape.RowLength;
        int c0 = r % shape.Groups * shape.ChannelsPerGroup;
        float* g = a.Gamma == null ? null : a.Gamma + c0;
        // dgamma += dy * xhat; dbeta += dy, per element
        if (sums != null)
            SampleNormLoops.RowAccumulateParamGrad<TS, TV>(a.Dy + offset, a.X + offset, length, hi, lo, (float)inv,
                a.DGamma == null ? null : sums + c0, a.DBeta == null ? null : sums + shape.Channels + c0);
        // sum(dxhat) and sum(dxhat * (x - mean)), dxhat = dy * gamma
        var (sumDxhat, sumDxhatD) = g == null
            ? BatchNormLoops.PlaneSumGrad<TS, TV>(a.Dy + offset, a.X + offset, length, hi, lo)
            : SampleNormLoops.RowSumGradWeighted<TS, TV>(a.Dy + offset, a.X + offset, g, length, hi, lo);
        // dx = invstd * (dxhat - sum(dxhat) / L - xhat * sum(dxhat * xhat) / L)
        float c1 = (float)(inv * sumDxhat / length), c2 = (float)(inv * inv * inv * sumDxhatD / length);
        if (g == null) BatchNormLoops.PlaneApplyGrad<TS, TV>(a.Dy + offset, a.X + offset, a.Dx + offset, length, hi, lo, (float)inv, c1, c2);
        else SampleNormLoops.RowApplyGradWeighted<TS, TV>(a.Dy + offset, a.X + offset, a.Dx + offset, g, length, hi, lo, (float)inv, c1, c2);
    }

    /// <summary>dgamma[c] += sum over rows of the channel's sum(dy * xhat); dbeta[c] += sum(dy): in double, rows in order.</summary>
    private static void ReducePartials(ref Args a)
    {
        var shape = a.Shape;
        int kc = shape.ChannelsPerGroup;
        for (int c = 0; c < shape.Channels; c++)
        {
            int g = c / kc, j = c % kc;
            double sumDyXhat = 0, sumDy = 0;
            for (int n = 0; n < shape.Outer; n++)
            {
                long p = 2 * ((long)(n * shape.Groups + g) * kc + j);
                sumDyXhat += a.Partials[p];
                sumDy += a.Partials[p + 1];
            }
            if (a.DGamma != null) a.DGamma[c] += (float)sumDyXhat;
            if (a.DBeta != null) a.DBeta[c] += (float)sumDy;
        }
    }

    /// <summary>dgamma[c] += the chunks' sums of dy * xhat, dbeta[c] += their sums of dy: in double, chunks in order
    /// (chunk-major, so the float sums are read contiguously).</summary>
    private static void ReduceChunkSums(ref Args a, int chunks)
    {
        int width = 2 * a.Shape.Channels, channels = a.Shape.Channels;
        double[] totals = ThreadScratch.Get(ref t_totals, width);
        Array.Clear(totals, 0, width);
        for (int k = 0; k < chunks; k++)
        {
            float* sums = a.ChunkSums + (long)k * width;
            for (int j = 0; j < width; j++) totals[j] += sums[j];
        }
        for (int c = 0; c < channels; c++)
        {
            if (a.DGamma != null) a.DGamma[c] += (float)totals[c];
            if (a.DBeta != null) a.DBeta[c] += (float)totals[channels + c];
        }
    }

    /// <summary>The arguments of one kernel call, on the caller's stack while the job runs.</summary>
    private struct Args
    {
        public float* X, Y, Dy, Dx, Gamma, Beta, DGamma, DBeta;
        public double* Mean, Invstd, Variance, Partials;
        public float* ChunkSums;
        public double Eps;
        public SampleNormShape Shape;
        public int RowsPerChunk;
    }
}
