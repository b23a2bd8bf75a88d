using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NormNet.Threading;

namespace NormNet.Kernels;

// Inference (eval mode): frozen running statistics make BN one per-channel affine transform.
public static unsafe partial class BatchNorm
{
    // x, y: (N, C, S); gamma, beta: (C) or empty; runningMean, runningVar: (C).
    /// <summary>Eval-mode forward: y = x * alpha + shift with alpha = gamma / sqrt(runningVar + eps) and
    /// shift = beta - runningMean * alpha (computed per channel in double), one fused multiply-add per element.</summary>
    public static void InferenceForward(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, BatchNormShape shape, double eps, Span<float> y)
    {
        SimdDispatch.Run(new InferenceForwardOp(x, gamma, beta, runningMean, runningVar, shape, eps, y));
    }

    private readonly ref struct InferenceForwardOp(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, BatchNormShape shape, double eps, Span<float> y) : ISimdOperation
    {
        private readonly ReadOnlySpan<float> _x = x, _gamma = gamma, _beta = beta, _runningMean = runningMean, _runningVar = runningVar;
        private readonly Span<float> _y = y;

        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct =>
            InferenceForward<TS, TV>(_x, _gamma, _beta, _runningMean, _runningVar, shape, eps, _y);
    }

    // dy, x, dx: (N, C, S); gamma: (C) or empty; runningMean, runningVar: (C); dgamma, dbeta: (C) accumulated, or empty.
    /// <summary>Eval-mode backward (frozen statistics): dx = dy * gamma / sqrt(runningVar + eps);
    /// dgamma += sum(dy * xhat) with xhat from the running statistics; dbeta += sum(dy).</summary>
    public static void InferenceBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, BatchNormShape shape, double eps,
        Span<float> dx, Span<float> dgamma, Span<float> dbeta)
    {
        SimdDispatch.Run(new InferenceBackwardOp(dy, x, gamma, runningMean, runningVar, shape, eps, dx, dgamma, dbeta));
    }

    private readonly ref struct InferenceBackwardOp(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, BatchNormShape shape, double eps,
        Span<float> dx, Span<float> dgamma, Span<float> dbeta) : ISimdOperation
    {
        private readonly ReadOnlySpan<float> _dy = dy, _x = x, _gamma = gamma, _runningMean = runningMean, _runningVar = runningVar;
        private readonly Span<float> _dx = dx, _dgamma = dgamma, _dbeta = dbeta;

        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct =>
            InferenceBackward<TS, TV>(_dy, _x, _gamma, _runningMean, _runningVar, shape, eps, _dx, _dgamma, _dbeta);
    }

    internal static void InferenceForward<TS, TV>(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, BatchNormShape shape, double eps, Span<float> y)
        where TS : ISimd<TV> where TV : struct
    {
        shape.Validate();
        shape.CheckLength(x.Length, nameof(x), shape.Elements);
        shape.CheckLength(y.Length, nameof(y), shape.Elements);
        shape.CheckOptional(gamma.Length, nameof(gamma));
        shape.CheckOptional(beta.Length, nameof(beta));
        shape.CheckLength(runningMean.Length, nameof(runningMean), shape.Channels);
        shape.CheckLength(runningVar.Length, nameof(runningVar), shape.Channels);
        int c = shape.Channels;
        float[] coefficients = ThreadScratch.Get(ref t_coefficients, 2 * c);
        for (int j = 0; j < c; j++)
        {
            // alpha = gamma * invstd; shift = beta - mean * alpha
            double alpha = (gamma.IsEmpty ? 1.0 : gamma[j]) / Math.Sqrt(runningVar[j] + eps);
            coefficients[j] = (float)alpha;
            coefficients[c + j] = (float)((beta.IsEmpty ? 0.0 : beta[j]) - runningMean[j] * alpha);
        }
        fixed (float* px = x, py = y, pc = coefficients)
        {
            var args = new Args { X = px, Y = py, Scale = pc, Shift = pc + c, N = shape.Outer, C = c, S = shape.Inner, Stream = Streams(shape) };
            if (shape.Inner == 1)
            {
                int chunks = RowChunks(shape.Outer, c, out args.RowsPerChunk, out args.SubRows);
                Parallelism.For(chunks, &args, &RowsScaleShiftChunk<TS, TV>);
            }
            else
            {
                long planes = (long)shape.Outer * c;
                args.ChannelsPerChunk = (int)Math.Max(1, 32768 / shape.Inner); // planes per chunk here
                int chunks = shape.Elements < MinParallelElements ? 1 : (int)((planes + args.ChannelsPerChunk - 1) / args.ChannelsPerChunk);
                if (chunks == 1) args.ChannelsPerChunk = (int)planes;
                Parallelism.For(chunks, &args, &PlanesScaleShiftChunk<TS, TV>);
            }
        }
    }

    [ThreadStatic] private static float[]? t_coefficients;
    [ThreadStatic] private static double[]? t_runningStats;

    internal static void InferenceBackward<TS, TV>(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, BatchNormShape shape, double eps,
        Span<float> dx, Span<float> dgamma, Span<float> dbeta)
        where TS : ISimd<TV> where TV : struct
    {
        shape.Validate();
        shape.CheckLength(runningMean.Length, nameof(runningMean), shape.Channels);
        shape.CheckLength(runningVar.Length, nameof(runningVar), shape.Channels);
        int c = shape.Channels;
        double[] stats = ThreadScratch.Get(ref t_runningStats, 2 * c);
        for (int j = 0; j < c; j++)
        {
            stats[j] = runningMean[j];
            stats[c + j] = 1.0 / Math.Sqrt(runningVar[j] + eps);
        }
        Backward<TS, TV>(dy, x, gamma, stats.AsSpan(0, c), stats.AsSpan(c, c), shape, dx, dgamma, dbeta, frozen: true);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PlanesScaleShiftChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        long p0 = (long)chunk * a.ChannelsPerChunk, p1 = Math.Min((long)a.N * a.C, p0 + a.ChannelsPerChunk);
        for (long p = p0; p < p1; p++)
        {
            int c = (int)(p % a.C);
            // y = x * alpha[c] + shift[c]
            BatchNormLoops.PlaneScaleShift<TS, TV>(a.X + p * a.S, a.Y + p * a.S, a.S, a.Scale[c], a.Shift[c], a.Stream);
        }
        EndStreaming(a.Stream);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsScaleShiftChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref Args a = ref *(Args*)state;
        int c = a.C, r0 = chunk * a.RowsPerChunk, r1 = Math.Min(a.N, r0 + a.RowsPerChunk);
        // y[r, :] = x[r, :] * alpha + shift
        BatchNormLoops.RowsScaleShift<TS, TV>(a.X + (long)r0 * c, a.Y + (long)r0 * c, c, r1 - r0, c, a.Scale, a.Shift, a.Stream);
        EndStreaming(a.Stream);
    }
}
