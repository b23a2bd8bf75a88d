using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>Element-wise activation kernels (forward and backward side by side), vectorized and parallel
/// over fixed chunks for large tensors.</summary>
public static unsafe class Activations
{
    private const int ChunkElements = 32768;

    /// <summary>Which activation.</summary>
    public enum Kind
    {
        /// <summary>max(x, 0).</summary>
        Relu,
        /// <summary>1 / (1 + exp(-x)).</summary>
        Sigmoid,
        /// <summary>tanh(x).</summary>
        Tanh,
    }

    private struct Args
    {
        public float* X, Y, Dy, Dx;
        public long Length;
        public Kind Kind;
        public SimdWidth Width;
    }

    // x, y: (n)
    /// <summary>y = f(x).</summary>
    public static void Forward(Kind kind, ReadOnlySpan<float> x, Span<float> y) => Forward(SimdDispatch.Widest, kind, x, y);

    /// <summary><see cref="Forward(Kind, ReadOnlySpan{float}, Span{float})"/> at a chosen width (tests run every width).</summary>
    internal static void Forward(SimdWidth width, Kind kind, ReadOnlySpan<float> x, Span<float> y)
    {
        if (x.Length != y.Length) throw new ArgumentException($"Activation: x has {x.Length} elements, y has {y.Length}.");
        fixed (float* px = x, py = y)
        {
            var a = new Args { X = px, Y = py, Length = x.Length, Kind = kind, Width = width };
            Parallelism.For(Chunks(x.Length), &a, &ForwardChunk);
        }
    }

    // dy, x, y, dx: (n); ReLU reads x, sigmoid and tanh read y
    /// <summary>dx = dy * f'(x): ReLU dx = dy * (x &gt; 0); sigmoid dx = dy * y * (1 - y); tanh dx = dy * (1 - y^2).</summary>
    public static void Backward(Kind kind, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dx) =>
        Backward(SimdDispatch.Widest, kind, dy, x, y, dx);

    /// <summary><see cref="Backward(Kind, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/> at a chosen width.</summary>
    internal static void Backward(SimdWidth width, Kind kind, ReadOnlySpan<float> dy, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> dx)
    {
        if (dy.Length != dx.Length || x.Length != dx.Length || y.Length != dx.Length)
            throw new ArgumentException($"Activation backward: lengths dy {dy.Length}, x {x.Length}, y {y.Length}, dx {dx.Length} differ.");
        fixed (float* pdy = dy, px = x, py = y, pdx = dx)
        {
            var a = new Args { Dy = pdy, X = px, Y = py, Dx = pdx, Length = dx.Length, Kind = kind, Width = width };
            Parallelism.For(Chunks(dx.Length), &a, &BackwardChunk);
        }
    }

    // x, y: (n), on the calling thread
    /// <summary>y = f(x) at the widest vector width, without dispatching to workers (for a kernel's epilogue, inside its own chunk).</summary>
    internal static void ForwardInline(Kind kind, float* x, float* y, long n) => SimdDispatch.Run(SimdDispatch.Widest, new ForwardOp(kind, x, y, n));

    private static int Chunks(long n) => (int)Math.Max(1, (n + ChunkElements - 1) / ChunkElements);

    private static void ForwardChunk(void* state, int chunk)
    {
        var a = (Args*)state;
        long i0 = (long)chunk * ChunkElements, n = Math.Min(ChunkElements, a->Length - i0);
        SimdDispatch.Run(a->Width, new ForwardOp(a->Kind, a->X + i0, a->Y + i0, n));
    }

    private readonly struct ForwardOp(Kind kind, float* x, float* y, long n) : ISimdOperation
    {
        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct => Forward<TS, TV>(kind, x, y, n);
    }

    private static void BackwardChunk(void* state, int chunk)
    {
        var a = (Args*)state;
        long i0 = (long)chunk * ChunkElements, n = Math.Min(ChunkElements, a->Length - i0);
        SimdDispatch.Run(a->Width, new BackwardOp(a->Kind, a->Dy + i0, a->X + i0, a->Y + i0, a->Dx + i0, n));
    }

    private readonly struct BackwardOp(Kind kind, float* dy, float* x, float* y, float* dx, long n) : ISimdOperation
    {
        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct => Backward<TS, TV>(kind, dy, x, y, dx, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Forward<TS, TV>(Kind kind, float* x, float* y, long n) where TS : ISimd<TV> where TV : struct
    {
        long w = TS.Width, i = 0;
        TV zero = TS.Zero, one = TS.Broadcast(1f), two = TS.Broadcast(2f);
        switch (kind)
        {
            case Kind.Relu:
                // y = max(x, 0); NaN propagates as in PyTorch
                for (; i <= n - w; i += w) TS.Store(TS.Max(TS.Load(x + i), zero), y + i);
                for (; i < n; i++) y[i] = float.IsNaN(x[i]) ? x[i] : MathF.Max(x[i], 0f);
                break;
            case Kind.Sigmoid:
                // y = 1 / (1 + exp(-x))
                for (; i <= n - w; i += w) TS.Store(TS.Div(one, TS.Add(one, SimdExp.Exp<TS, TV>(TS.Sub(zero, TS.Load(x + i))))), y + i);
                if (i < n) Tail<TS, TV>(kind, x + i, y + i, (int)(n - i));
                break;
            default:
                // y = tanh(x) = 2 / (1 + exp(-2x)) - 1
                for (; i <= n - w; i += w)
                {
                    TV e = SimdExp.Exp<TS, TV>(TS.Mul(TS.Broadcast(-2f), TS.Load(x + i)));
                    TS.Store(TS.Sub(TS.Div(two, TS.Add(one, e)), one), y + i);
                }
                if (i < n) Tail<TS, TV>(kind, x + i, y + i, (int)(n - i));
                break;
        }
    }

    // x, y: (count), count < the vector width
    /// <summary>The last elements of a sigmoid or tanh, computed by the vector loop on a copy padded to one whole vector: the
    /// scalar exp and tanh round differently, which made an element's bits depend on where the array ended (on the batch
    /// size: a sample's outputs changed when it was run in a batch of 2 instead of 3).</summary>
    private static void Tail<TS, TV>(Kind kind, float* x, float* y, int count) where TS : ISimd<TV> where TV : struct
    {
        float* padded = stackalloc float[TS.Width];
        new Span<float>(padded, TS.Width).Clear();
        new ReadOnlySpan<float>(x, count).CopyTo(new Span<float>(padded, count));
        Forward<TS, TV>(kind, padded, padded, TS.Width);
        new ReadOnlySpan<float>(padded, count).CopyTo(new Span<float>(y, count));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Backward<TS, TV>(Kind kind, float* dy, float* x, float* y, float* dx, long n) where TS : ISimd<TV> where TV : struct
    {
        long w = TS.Width, i = 0;
        TV one = TS.Broadcast(1f);
        switch (kind)
        {
            case Kind.Relu:
                // dx = x > 0 ? dy : 0
                for (; i <= n - w; i += w) TS.Store(TS.Select(TS.GreaterThanZero(TS.Load(x + i)), TS.Load(dy + i), TS.Zero), dx + i);
                for (; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0f;
                break;
            case Kind.Sigmoid:
                // dx = dy * y * (1 - y)
                for (; i <= n - w; i += w)
                {
                    TV yv = TS.Load(y + i);
                    TS.Store(TS.Mul(TS.Load(dy + i), TS.Mul(yv, TS.Sub(one, yv))), dx + i);
                }
                for (; i < n; i++) dx[i] = dy[i] * (y[i] * (1f - y[i]));
                break;
            default:
                // dx = dy * (1 - y^2)
                for (; i <= n - w; i += w)
                {
                    TV yv = TS.Load(y + i);
                    TS.Store(TS.Mul(TS.Load(dy + i), TS.Sub(one, TS.Mul(yv, yv))), dx + i);
                }
                for (; i < n; i++) dx[i] = dy[i] * (1f - y[i] * y[i]);
                break;
        }
    }
}
