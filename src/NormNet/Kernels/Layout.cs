using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>Moves a convolution's result between the matrix-product layout (C, N*P) and the tensor layout (N, C, P).</summary>
public static unsafe class Layout
{
    private struct Args
    {
        public float* Src, Dst, Bias;
        public int N, C, P;
    }

    // src: (C, N*P) -> dst: (N, C, P), plus bias[c] when given
    /// <summary>dst[n, c, p] = src[c, n*P + p] + bias[c].</summary>
    public static void ChannelMajorToBatchMajor(ReadOnlySpan<float> src, int n, int c, int p, ReadOnlySpan<float> bias, Span<float> dst)
    {
        Check(src.Length, dst.Length, n, c, p);
        fixed (float* ps = src, pd = dst, pb = bias)
        {
            var a = new Args { Src = ps, Dst = pd, Bias = bias.IsEmpty ? null : pb, N = n, C = c, P = p };
            Parallelism.For(Chunks(n, c, p), &a, &ToBatchMajor);
        }
    }

    // src: (N, C, P) -> dst: (C, N*P)
    /// <summary>dst[c, n*P + p] = src[n, c, p].</summary>
    public static void BatchMajorToChannelMajor(ReadOnlySpan<float> src, int n, int c, int p, Span<float> dst)
    {
        Check(dst.Length, src.Length, n, c, p);
        fixed (float* ps = src, pd = dst)
        {
            var a = new Args { Src = ps, Dst = pd, N = n, C = c, P = p };
            Parallelism.For(Chunks(n, c, p), &a, &ToChannelMajor);
        }
    }

    private static void Check(int matrixLength, int tensorLength, int n, int c, int p)
    {
        long need = (long)n * c * p;
        if (matrixLength < need || tensorLength < need)
            throw new ArgumentException($"Layout: ({n}, {c}, {p}) needs {need} elements; got {matrixLength} and {tensorLength}.");
    }

    private static int Chunks(int n, int c, int p) => (long)n * c * p < 65536 ? 1 : n;

    private static void ToBatchMajor(void* state, int chunk)
    {
        var a = (Args*)state;
        int n0 = 0, n1 = a->N;
        if (Chunks(a->N, a->C, a->P) != 1) { n0 = chunk; n1 = chunk + 1; }
        long np = (long)a->N * a->P;
        for (int n = n0; n < n1; n++)
            for (int c = 0; c < a->C; c++)
            {
                float* s = a->Src + c * np + (long)n * a->P;
                float* d = a->Dst + ((long)n * a->C + c) * a->P;
                float b = a->Bias == null ? 0f : a->Bias[c];
                for (int i = 0; i < a->P; i++) d[i] = s[i] + b;
            }
    }

    private static void ToChannelMajor(void* state, int chunk)
    {
        var a = (Args*)state;
        int n0 = 0, n1 = a->N;
        if (Chunks(a->N, a->C, a->P) != 1) { n0 = chunk; n1 = chunk + 1; }
        long np = (long)a->N * a->P;
        for (int n = n0; n < n1; n++)
            for (int c = 0; c < a->C; c++)
                new ReadOnlySpan<float>(a->Src + ((long)n * a->C + c) * a->P, a->P)
                    .CopyTo(new Span<float>(a->Dst + c * np + (long)n * a->P, a->P));
    }
}
