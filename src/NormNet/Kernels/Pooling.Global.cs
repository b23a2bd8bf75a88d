using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NormNet.Threading;

namespace NormNet.Kernels;

public static unsafe partial class Pooling
{
    // x: (planes, plane) -> y: (planes)
    /// <summary>y[i] = (sum over plane i, in double) / plane: global average pooling, torch.nn.AdaptiveAvgPool2d(1).</summary>
    /// <remarks>Each sum runs in eight double lanes (element j in lane j mod 8, the tail added to the lanes' total in
    /// order), on every machine the same (128-bit vectors, which every target runs natively), so the result does not
    /// depend on the vector width or the thread count; planes run in parallel. Summing one element after another made the
    /// resnet's pooling a chain of dependent additions (measured, 64 x 64 x 7 x 7, alternating builds: 158-243 us on 1 thread
    /// and 224-234 on 2 before, 66-75 and 46-54 us now).</remarks>
    public static void GlobalAvgForward(ReadOnlySpan<float> x, int planes, int plane, Span<float> y)
    {
        if (planes < 0 || plane < 1 || x.Length != (long)planes * plane || y.Length != planes)
            throw new ArgumentException($"Global average pooling of {planes} planes of {plane}: input has {x.Length} elements (expected {(long)planes * plane}), output {y.Length} (expected {planes}).");
        fixed (float* px = x, py = y)
        {
            var a = new Args { X = px, Y = py, G = new ConvGeometry(1, planes, plane, 1, plane, 1, 1, 0) };
            Parallelism.For(Chunks(ref a), &a, &GlobalAvgPlanes);
        }
    }

    // dy: (planes) -> dx: (planes, plane), overwritten
    /// <summary>dx[i, :] = dy[i] / plane.</summary>
    public static void GlobalAvgBackward(ReadOnlySpan<float> dy, int planes, int plane, Span<float> dx)
    {
        if (planes < 0 || plane < 1 || dx.Length != (long)planes * plane || dy.Length != planes)
            throw new ArgumentException($"Global average pooling backward of {planes} planes of {plane}: dx has {dx.Length} elements (expected {(long)planes * plane}), dy {dy.Length} (expected {planes}).");
        for (int i = 0; i < planes; i++) dx.Slice(i * plane, plane).Fill(dy[i] / plane);
    }

    private static void GlobalAvgPlanes(void* state, int chunk)
    {
        var a = (Args*)state;
        var (first, end) = PlaneRange(a, chunk);
        int plane = a->G.H;
        for (long p = first; p < end; p++) a->Y[p] = (float)(Sum(a->X + p * plane, plane) / plane);
    }

    // x: (n) -> sum_j x[j] in double: lanes j mod 8 (four 2-lane accumulators), then ((l0 + l1) + (l2 + l3)) + ... and the tail in order
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Sum(float* x, int n)
    {
        Vector128<double> s0 = default, s1 = default, s2 = default, s3 = default;
        int j = 0;
        for (; j <= n - 8; j += 8)
        {
            var (a, b) = Vector128.Widen(Vector128.Load(x + j));
            var (c, d) = Vector128.Widen(Vector128.Load(x + j + 4));
            s0 += a; s1 += b; s2 += c; s3 += d;
        }
        double sum = Vector128.Sum((s0 + s1) + (s2 + s3));
        for (; j < n; j++) sum += x[j];
        return sum;
    }
}
