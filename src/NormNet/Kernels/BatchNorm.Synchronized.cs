using System.Buffers;
using System.Runtime.CompilerServices;
using NormNet.Threading;

namespace NormNet.Kernels;

// Batch norm whose statistics come from outside (SyncBatchNorm: combined over the ranks of a data-parallel job).
// The same loops as the training kernels, split into chunks that depend on the shape only: whole channels for
// (N, C, S) planes, row blocks for the element-wise passes over (N, C) rows, and column blocks of ColumnBlock channels
// for the (N, C) gradient sums, whose accumulation order within a channel is the same for every thread count. So the
// result depends only on the inputs and the given statistics, bit for bit. The per-channel constants live on the
// stack (or in a pooled array for very many channels): no allocation per call. An input of zero rows (a rank without
// samples) is allowed and does nothing.
public static unsafe partial class BatchNorm
{
    /// <summary>Channels whose per-channel constants go on the stack (at most 5 floats each: 10 KB); more: a pooled array.</summary>
    private const int StackChannels = 512;

    /// <summary>What the given-statistics passes read and write: the arrays, the shape and the chunking.</summary>
    private struct GivenArgs
    {
        public float* X, Dy, Out; // Out: y (normalize) or dx (apply gradient)
        public float* K;          // per-channel constants; their layout is the pass's
        public double* SumDy, SumDyD;
        public int N, C, ChannelsPerChunk, RowsPerChunk;
        public long S;
    }

    private enum GivenPass { Normalize, GradientSums, ApplyGradient }

    // x, y: (N, C, S); gamma, beta: (C) or empty; mean, invstd: (C), given.
    /// <summary>y = (x - mean) * invstd * gamma + beta with the given per-channel statistics (double; the mean is
    /// split into a float and its rounding residue, as in <see cref="TrainingForward"/>).</summary>
    public static void NormalizeWith(ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, BatchNormShape shape, Span<float> y)
    {
        CheckGiven(shape, x.Length, y.Length, gamma.Length, beta.Length, mean.Length, invstd.Length);
        if (shape.Elements == 0) return;
        int c = shape.Channels;
        float[]? pooled = c > StackChannels ? ArrayPool<float>.Shared.Rent(4 * c) : null;
        Span<float> constants = pooled is not null ? pooled : stackalloc float[4 * c]; // hi, lo, scale, shift (rows: shift = beta - lo * scale)
        try
        {
            for (int j = 0; j < c; j++)
            {
                float hi = (float)mean[j], lo = (float)(mean[j] - hi), scale = (float)((gamma.IsEmpty ? 1.0 : gamma[j]) * invstd[j]);
                float b = beta.IsEmpty ? 0f : beta[j];
                (constants[j], constants[c + j], constants[2 * c + j]) = (hi, lo, scale);
                constants[3 * c + j] = shape.Inner == 1 ? (float)(b - (double)lo * scale) : b;
            }
            fixed (float* px = x, py = y, k = constants)
            {
                var a = new GivenArgs { X = px, Out = py, K = k };
                RunGiven(ref a, shape, GivenPass.Normalize);
            }
        }
        finally
        {
            if (pooled is not null) ArrayPool<float>.Shared.Return(pooled);
        }
    }

    // dy, x: (N, C, S); mean: (C); sumDy, sumDyD: (C), overwritten.
    /// <summary>The local reductions of the backward pass: sumDy = sum(dy), sumDyD = sum(dy * (x - mean)) per channel.</summary>
    public static void GradientSums(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<double> mean, BatchNormShape shape,
        Span<double> sumDy, Span<double> sumDyD)
    {
        CheckGiven(shape, x.Length, dy.Length, 0, 0, mean.Length, sumDy.Length);
        shape.CheckLength(sumDyD.Length, nameof(sumDyD), shape.Channels);
        sumDy.Clear();
        sumDyD.Clear();
        if (shape.Elements == 0) return;
        int c = shape.Channels;
        float[]? pooled = c > StackChannels ? ArrayPool<float>.Shared.Rent(2 * c) : null;
        Span<float> split = pooled is not null ? pooled : stackalloc float[2 * c]; // each mean as a float and its rounding residue: hi (C), lo (C)
        try
        {
            for (int j = 0; j < c; j++)
            {
                split[j] = (float)mean[j];
                split[c + j] = (float)(mean[j] - split[j]);
            }
            fixed (float* pdy = dy, px = x, k = split)
            fixed (double* s1 = sumDy, s2 = sumDyD)
            {
                var a = new GivenArgs { X = px, Dy = pdy, K = k, SumDy = s1, SumDyD = s2 };
                RunGiven(ref a, shape, GivenPass.GradientSums);
            }
        }
        finally
        {
            if (pooled is not null) ArrayPool<float>.Shared.Return(pooled);
        }
    }

    // dy, x, dx: (N, C, S); gamma: (C) or empty; mean, invstd, sumDy, sumDyXhat: (C); count: the values per channel
    // that the statistics and sums cover (over all ranks).
    /// <summary>The training input gradient from given statistics and sums:
    /// dx = gamma * invstd * (dy - sumDy / count - xhat * sumDyXhat / count), xhat = (x - mean) * invstd.</summary>
    public static void ApplyGradientWith(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, ReadOnlySpan<double> sumDy, ReadOnlySpan<double> sumDyXhat,
        double count, BatchNormShape shape, Span<float> dx)
    {
        CheckGiven(shape, x.Length, dy.Length, gamma.Length, 0, mean.Length, invstd.Length);
        shape.CheckLength(dx.Length, nameof(dx), shape.Elements);
        shape.CheckLength(sumDy.Length, nameof(sumDy), shape.Channels);
        shape.CheckLength(sumDyXhat.Length, nameof(sumDyXhat), shape.Channels);
        if (shape.Elements == 0) return;
        if (!(count >= shape.PerChannel)) throw new ArgumentOutOfRangeException(nameof(count), count, $"Expected a count of at least the local {shape.PerChannel} values per channel, got {count}.");
        int c = shape.Channels;
        float[]? pooled = c > StackChannels ? ArrayPool<float>.Shared.Rent(5 * c) : null;
        Span<float> constants = pooled is not null ? pooled : stackalloc float[5 * c]; // hi, lo, k, then planes: c1, c2; rows: q, p
        try
        {
            for (int j = 0; j < c; j++)
            {
                double k = (gamma.IsEmpty ? 1.0 : gamma[j]) * invstd[j];
                float hi = (float)mean[j], lo = (float)(mean[j] - hi);
                (constants[j], constants[c + j], constants[2 * c + j]) = (hi, lo, (float)k);
                double c1 = k * sumDy[j] / count, c2 = k * invstd[j] * sumDyXhat[j] / count;
                // planes: dx = dy * k - c1 - ((x - hi) - lo) * c2; rows: dx = (x - hi) * q + (dy * k + p), q = -c2, p = -c1 - lo * q
                constants[3 * c + j] = shape.Inner == 1 ? -(float)c2 : (float)c1;
                constants[4 * c + j] = shape.Inner == 1 ? (float)(-c1 - (double)lo * -(float)c2) : (float)c2;
            }
            fixed (float* pdy = dy, px = x, pdx = dx, k = constants)
            {
                var a = new GivenArgs { X = px, Dy = pdy, Out = pdx, K = k };
                RunGiven(ref a, shape, GivenPass.ApplyGradient);
            }
        }
        finally
        {
            if (pooled is not null) ArrayPool<float>.Shared.Return(pooled);
        }
    }

    /// <summary>Chooses the chunks from the shape alone and runs the pass over them: inline for small inputs, else in parallel.</summary>
    private static void RunGiven(ref GivenArgs a, BatchNormShape shape, GivenPass pass)
    {
        (a.N, a.C, a.S) = (shape.Outer, shape.Channels, shape.Inner);
        int chunks;
        if (shape.Inner > 1) chunks = PlanarChunks(shape, out a.ChannelsPerChunk);
        else if (pass == GivenPass.GradientSums) chunks = (a.C + ColumnBlock - 1) / ColumnBlock; // always blocks: the same sums for any thread count
        else
        {
            // element-wise over rows: any split gives the same bits; ~64K elements a chunk
            a.RowsPerChunk = shape.Elements < MinParallelElements ? a.N : Math.Max(1, (int)(MinParallelElements / a.C));
            chunks = (a.N + a.RowsPerChunk - 1) / a.RowsPerChunk;
        }
        fixed (GivenArgs* pa = &a) SimdDispatch.Run(new GivenOperation(pa, pass, chunks, shape.Elements >= MinParallelElements));
    }

    private readonly struct GivenOperation(GivenArgs* args, GivenPass pass, int chunks, bool parallel) : ISimdOperation
    {
        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct
        {
            bool planes = args->S > 1;
            delegate*<void*, int, void> body = pass switch
            {
                GivenPass.Normalize => planes ? &NormalizePlanesChunk<TS, TV> : &NormalizeRowsChunk<TS, TV>,
                GivenPass.GradientSums => planes ? &SumsPlanesChunk<TS, TV> : &SumsColumnsChunk<TS, TV>,
                _ => planes ? &ApplyPlanesChunk<TS, TV> : &ApplyRowsChunk<TS, TV>,
            };
            if (parallel) Parallelism.For(chunks, args, body);
            else for (int i = 0; i < chunks; i++) body(args, i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormalizePlanesChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref GivenArgs a = ref *(GivenArgs*)state;
        int first = chunk * a.ChannelsPerChunk, end = Math.Min(a.C, first + a.ChannelsPerChunk), c = a.C;
        long plane = a.S, stride = c * plane;
        for (int n = 0; n < a.N; n++)
            for (int j = first; j < end; j++)
                BatchNormLoops.PlaneNormalize<TS, TV>(a.X + n * stride + j * plane, a.Out + n * stride + j * plane, plane, a.K[j], a.K[c + j], a.K[2 * c + j], a.K[3 * c + j]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormalizeRowsChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref GivenArgs a = ref *(GivenArgs*)state;
        int r0 = chunk * a.RowsPerChunk, rows = Math.Min(a.N, r0 + a.RowsPerChunk) - r0, c = a.C;
        long o = (long)r0 * c;
        BatchNormLoops.RowsNormalize<TS, TV>(a.X + o, a.Out + o, c, rows, c, a.K, a.K + 2 * c, a.K + 3 * c);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SumsPlanesChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref GivenArgs a = ref *(GivenArgs*)state;
        int first = chunk * a.ChannelsPerChunk, end = Math.Min(a.C, first + a.ChannelsPerChunk), c = a.C;
        long plane = a.S, stride = c * plane;
        for (int j = first; j < end; j++)
            (a.SumDy[j], a.SumDyD[j]) = BatchNormLoops.PlanesSumGrad<TS, TV>(a.Dy + j * plane, a.X + j * plane, stride, a.N, plane, a.K[j], a.K[c + j]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SumsColumnsChunk<TS, TV>(void* state, int block) where TS : ISimd<TV> where TV : struct
    {
        ref GivenArgs a = ref *(GivenArgs*)state;
        int j0 = block * ColumnBlock, cb = Math.Min(ColumnBlock, a.C - j0);
        // sums of a block's channels over all rows, into their own (cleared) slots: no partials to merge
        BatchNormLoops.RowsSumGrad<TS, TV>(a.Dy + j0, a.X + j0, a.C, a.N, cb, a.K + j0, a.K + a.C + j0, a.SumDy + j0, a.SumDyD + j0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ApplyPlanesChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref GivenArgs a = ref *(GivenArgs*)state;
        int first = chunk * a.ChannelsPerChunk, end = Math.Min(a.C, first + a.ChannelsPerChunk), c = a.C;
        long plane = a.S, stride = c * plane;
        float* k = a.K;
        for (int n = 0; n < a.N; n++)
            for (int j = first; j < end; j++)
            {
                long o = n * stride + j * plane;
                BatchNormLoops.PlaneApplyGrad<TS, TV>(a.Dy + o, a.X + o, a.Out + o, plane, k[j], k[c + j], k[2 * c + j], k[3 * c + j], k[4 * c + j]);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ApplyRowsChunk<TS, TV>(void* state, int chunk) where TS : ISimd<TV> where TV : struct
    {
        ref GivenArgs a = ref *(GivenArgs*)state;
        int r0 = chunk * a.RowsPerChunk, rows = Math.Min(a.N, r0 + a.RowsPerChunk) - r0, c = a.C;
        long o = (long)r0 * c;
        BatchNormLoops.RowsApplyGrad<TS, TV>(a.Dy + o, a.X + o, a.Out + o, c, rows, c, a.K, a.K + 2 * c, a.K + 3 * c, a.K + 4 * c);
    }

    private static void CheckGiven(BatchNormShape shape, int x, int other, int gamma, int beta, int mean, int perChannel)
    {
        if (shape.Outer < 0 || shape.Channels <= 0 || shape.Inner <= 0)
            throw new ArgumentException($"Batch-norm shape {shape} must have a non-negative batch and positive channels and inner size.");
        shape.CheckLength(x, "x", shape.Elements);
        shape.CheckLength(other, "y/dy", shape.Elements);
        shape.CheckOptional(gamma, "gamma");
        shape.CheckOptional(beta, "beta");
        shape.CheckLength(mean, "mean", shape.Channels);
        shape.CheckLength(perChannel, "statistics", shape.Channels);
    }
}
