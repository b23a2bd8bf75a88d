using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>
/// Batch-normalization kernels: stateless functions over spans. The training pair computes batch
/// statistics; the inference pair (<c>InferenceForward</c>/<c>InferenceBackward</c>) uses frozen statistics.
/// </summary>
/// <remarks>
/// <para>Statistics accumulate in double (float vector blocks summed into double); the variance takes a
/// second pass over deviations from the mean. Channel planes (NCHW) are processed end to end by one thread
/// while they sit in cache; channels-last rows are reduced in fixed row chunks merged in chunk order
/// (Chan's formula). Chunking depends on the shape only, so results are bit-identical for any thread count.</para>
/// <para>Gamma/beta spans may be empty (affine = false: gamma = 1, beta = 0); dgamma/dbeta spans may be empty
/// (not wanted). Parameter gradients are accumulated (+=), as PyTorch accumulates <c>.grad</c>.</para>
/// </remarks>
public static unsafe partial class BatchNorm
{
    private const long MinParallelElements = 65536;

    /// <summary>Outputs above this size (half the L3 cache here) are written with non-temporal stores: no later
    /// layer would find them in cache anyway, and skipping the read-for-ownership saves a third of the traffic.</summary>
    private const long StreamBytes = 16L << 20;

    private static bool Streams(BatchNormShape shape) => shape.Elements * sizeof(float) > StreamBytes;

    /// <summary>Orders a chunk's non-temporal stores before its completion is signalled.</summary>
    internal static void EndStreaming(bool streamed)
    {
        if (streamed && System.Runtime.Intrinsics.X86.Sse.IsSupported) System.Runtime.Intrinsics.X86.Sse.StoreFence();
    }

    // x, y: (N, C, S); gamma, beta: (C) or empty; mean, invstd, variance (biased): (C), written.
    /// <summary>Training-mode forward: per-channel batch mean and biased variance, then
    /// y = (x - mean) * invstd * gamma + beta with invstd = 1 / sqrt(var + eps).</summary>
    public static void TrainingForward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        BatchNormShape shape, double eps, Span<float> y, Span<double> mean, Span<double> invstd, Span<double> variance)
    {
        SimdDispatch.Run(new TrainingForwardOp(x, gamma, beta, shape, eps, y, mean, invstd, variance));
    }

    private readonly ref struct TrainingForwardOp(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        BatchNormShape shape, double eps, Span<float> y, Span<double> mean, Span<double> invstd, Span<double> variance) : ISimdOperation
    {
        private readonly ReadOnlySpan<float> _x = x, _gamma = gamma, _beta = beta;
        private readonly Span<float> _y = y;
        private readonly Span<double> _mean = mean, _invstd = invstd, _variance = variance;

        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct =>
            TrainingForward<TS, TV>(_x, _gamma, _beta, shape, eps, _y, _mean, _invstd, _variance);
    }

    // dy, x, dx: (N, C, S); gamma: (C) or empty; mean, invstd: (C) saved by TrainingForward; dgamma, dbeta: (C) accumulated, or empty.
    /// <summary>Training-mode backward from the saved mean and invstd (x-hat is recomputed, not stored):
    /// dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)); dgamma += sum(dy * xhat); dbeta += sum(dy).</summary>
    public static void TrainingBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, BatchNormShape shape, Span<float> dx, Span<float> dgamma, Span<float> dbeta)
    {
        SimdDispatch.Run(new TrainingBackwardOp(dy, x, gamma, mean, invstd, shape, dx, dgamma, dbeta));
    }

    private readonly ref struct TrainingBackwardOp(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, BatchNormShape shape, Span<float> dx, Span<float> dgamma, Span<float> dbeta) : ISimdOperation
    {
        private readonly ReadOnlySpan<float> _dy = dy, _x = x, _gamma = gamma;
        private readonly ReadOnlySpan<double> _mean = mean, _invstd = invstd;
        private readonly Span<float> _dx = dx, _dgamma = dgamma, _dbeta = dbeta;

        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct =>
            Backward<TS, TV>(_dy, _x, _gamma, _mean, _invstd, shape, _dx, _dgamma, _dbeta, frozen: false);
    }

    internal static void TrainingForward<TS, TV>(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        BatchNormShape shape, double eps, Span<float> y, Span<double> mean, Span<double> invstd, Span<double> variance)
        where TS : ISimd<TV> where TV : struct
    {
        shape.Validate();
        shape.CheckLength(x.Length, nameof(x), shape.Elements);
        shape.CheckLength(y.Length, nameof(y), shape.Elements);
        shape.CheckOptional(gamma.Length, nameof(gamma));
        shape.CheckOptional(beta.Length, nameof(beta));
        shape.CheckLength(mean.Length, nameof(mean), shape.Channels);
        shape.CheckLength(invstd.Length, nameof(invstd), shape.Channels);
        shape.CheckLength(variance.Length, nameof(variance), shape.Channels);
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be non-negative.");

        fixed (float* px = x, py = y, pg = gamma, pb = beta)
        fixed (double* pm = mean, pi = invstd, pv = variance)
        {
            var args = new Args
            {
                X = px, Y = py, Gamma = gamma.IsEmpty ? null : pg, Beta = beta.IsEmpty ? null : pb,
                Mean = pm, Invstd = pi, Variance = pv, Eps = eps,
                N = shape.Outer, C = shape.Channels, S = shape.Inner, Stream = Streams(shape),
            };
            if (shape.Inner == 1) RowsTrainingForward<TS, TV>(ref args);
            else
            {
                int chunks = PlanarChunks(shape, out args.ChannelsPerChunk);
                Parallelism.For(chunks, &args, &PlanarForwardChunk<TS, TV>);
            }
        }
    }

    internal static void Backward<TS, TV>(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, BatchNormShape shape, Span<float> dx, Span<float> dgamma, Span<float> dbeta,
        bool frozen)
        where TS : ISimd<TV> where TV : struct
    {
        shape.Validate();
        shape.CheckLength(dy.Length, nameof(dy), shape.Elements);
        shape.CheckLength(x.Length, nameof(x), shape.Elements);
        shape.CheckLength(dx.Length, nameof(dx), shape.Elements);
        shape.CheckOptional(gamma.Length, nameof(gamma));
        shape.CheckOptional(dgamma.Length, nameof(dgamma));
        shape.CheckOptional(dbeta.Length, nameof(dbeta));
        shape.CheckLength(mean.Length, nameof(mean), shape.Channels);
        shape.CheckLength(invstd.Length, nameof(invstd), shape.Channels);

        fixed (float* pdy = dy, px = x, pdx = dx, pg = gamma, pdg = dgamma, pdb = dbeta)
        fixed (double* pm = mean, pi = invstd)
        {
            var args = new Args
            {
                Dy = pdy, X = px, Dx = pdx, Gamma = gamma.IsEmpty ? null : pg,
                DGamma = dgamma.IsEmpty ? null : pdg, DBeta = dbeta.IsEmpty ? null : pdb,
                Mean = pm, Invstd = pi, Frozen = frozen,
                N = shape.Outer, C = shape.Channels, S = shape.Inner, Stream = Streams(shape),
            };
            if (shape.Inner == 1) RowsBackward<TS, TV>(ref args);
            else
            {
                int chunks = PlanarChunks(shape, out args.ChannelsPerChunk);
                Parallelism.For(chunks, &args, &PlanarBackwardChunk<TS, TV>);
            }
        }
    }

    /// <summary>Whole channels per chunk, at least ~32K elements each; one chunk for small inputs.</summary>
    private static int PlanarChunks(BatchNormShape shape, out int channelsPerChunk)
    {
        if (shape.Elements < MinParallelElements)
        {
            channelsPerChunk = shape.Channels;
            return 1;
        }
        channelsPerChunk = (int)Math.Max(1, (32768 + shape.PerChannel - 1) / shape.PerChannel);
        return (shape.Channels + channelsPerChunk - 1) / channelsPerChunk;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PlanarForwardChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        int first = chunk * a.ChannelsPerChunk, end = Math.Min(a.C, first + a.ChannelsPerChunk);
        long plane = a.S, stride = (long)a.C * a.S;
        double count = (double)a.N * a.S;
        for (int c = first; c < end; c++)
        {
            float* xc = a.X + c * plane, yc = a.Y + c * plane;
            // mean = pivot + sum(x - pivot) / count: the shift keeps float block sums small and exact-ish
            float pivot = xc[0];
            double sum = BatchNormLoops.PlanesSumShifted<TS, TV>(xc, stride, a.N, plane, pivot);
            double m = pivot + sum / count;
            float hi = (float)m, lo = (float)(m - hi);
            // corrected two-pass, while the channel is still in cache: d = x - m;
            // mean = m + sum(d) / count; var = (sum(d^2) - sum(d)^2 / count) / count.
            // The passes zig-zag (images forward, backward, forward): each starts on the planes the previous one
            // read last, which are the ones most likely still in L2 when a channel nearly fills it.
            double sumD = 0, sumD2 = 0;
            for (int n = a.N - 1; n >= 0; n--)
            {
                var (s1, s2) = BatchNormLoops.PlaneSumDeviations<TS, TV>(xc + n * stride, plane, hi, lo);
                sumD += s1;
                sumD2 += s2;
            }
            m += sumD / count;
            hi = (float)m;
            lo = (float)(m - hi);
            double v = Math.Max(0, (sumD2 - sumD * sumD / count) / count), inv = 1.0 / Math.Sqrt(v + a.Eps);
            a.Mean[c] = m;
            a.Variance[c] = v;
            a.Invstd[c] = inv;
            // y = (x - mean) * (gamma * invstd) + beta
            float scale = (float)((a.Gamma == null ? 1.0 : a.Gamma[c]) * inv);
            float shift = a.Beta == null ? 0f : a.Beta[c];
            for (int n = 0; n < a.N; n++)
                BatchNormLoops.PlaneNormalize<TS, TV>(xc + n * stride, yc + n * stride, plane, hi, lo, scale, shift, a.Stream);
        }
        EndStreaming(a.Stream);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PlanarBackwardChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        int first = chunk * a.ChannelsPerChunk, end = Math.Min(a.C, first + a.ChannelsPerChunk);
        long plane = a.S, stride = (long)a.C * a.S;
        double count = (double)a.N * a.S;
        bool wantSums = !a.Frozen || a.DGamma != null || a.DBeta != null;
        for (int c = first; c < end; c++)
        {
            long offset = c * plane;
            double m = a.Mean[c], inv = a.Invstd[c], g = a.Gamma == null ? 1.0 : a.Gamma[c];
            float hi = (float)m, lo = (float)(m - hi);
            double sumDy = 0, sumDyD = 0;
            // sum(dy) and sum(dy * (x - mean)) in one pass
            if (wantSums) (sumDy, sumDyD) = BatchNormLoops.PlanesSumGrad<TS, TV>(a.Dy + offset, a.X + offset, stride, a.N, plane, hi, lo);
            double sumDyXhat = sumDyD * inv;
            if (a.DGamma != null) a.DGamma[c] += (float)sumDyXhat;
            if (a.DBeta != null) a.DBeta[c] += (float)sumDy;
            double k = g * inv;
            if (a.Frozen)
            {
                // dx = dy * gamma * invstd
                for (int n = 0; n < a.N; n++)
                {
                    long o = offset + n * stride;
                    BatchNormLoops.PlaneScaleShift<TS, TV>(a.Dy + o, a.Dx + o, plane, (float)k, 0f, a.Stream);
                }
                continue;
            }
            // dx = k * (dy - sumDy / count - xhat * sumDyXhat / count), xhat = (x - mean) * invstd
            float c1 = (float)(k * sumDy / count), c2 = (float)(k * inv * sumDyXhat / count);
            // images in reverse: the sums pass read the last ones last (see the forward)
            for (int n = a.N - 1; n >= 0; n--)
            {
                long o = offset + n * stride;
                BatchNormLoops.PlaneApplyGrad<TS, TV>(a.Dy + o, a.X + o, a.Dx + o, plane, hi, lo, (float)k, c1, c2, a.Stream);
            }
        }
        EndStreaming(a.Stream);
    }

    /// <summary>The arguments of one kernel call, on the caller's stack while the job runs.</summary>
    private struct Args
    {
        public float* X, Y, Dy, Dx, Gamma, Beta, DGamma, DBeta;
        public double* Mean, Invstd, Variance;
        public double Eps;
        public bool Frozen, Stream;
        public int N, C, S, ChannelsPerChunk;
        // channels-last: row chunks and per-channel workspaces
        public int RowsPerChunk, SubRows;
        public double* PartA, PartB;
        public float* Scratch, Hi, Lo, Scale, Shift, P, Q;
    }
}
