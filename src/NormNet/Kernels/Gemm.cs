using System.Runtime.Intrinsics;
using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>Single-precision matrix product (BLAS SGEMM semantics, row-major).</summary>
/// <remarks>
/// <para>The managed backend (the default) packs panels of op(A) and op(B) into aligned per-thread buffers
/// and runs a register-blocked FMA micro-kernel (8 x 32 with AVX-512, 6 x 16 with AVX2, 6 x 8 with Vector128 (ARM64's AdvSimd, or SSE), scalar otherwise),
/// on several threads for large products (<see cref="Threading.Parallelism"/>). It allocates nothing per call
/// once each thread has its buffers.</para>
/// <para>Each element of C is summed over k in a fixed order (blocks of k fixed by k alone, each block one
/// FMA chain), so results are bit-identical for any thread count and any SIMD width.</para>
/// <para>The calling thread's <see cref="ComputeSettings.Current"/> chooses the backend and the thread count;
/// OpenBLAS's results are not guaranteed bit-identical across thread counts.</para>
/// </remarks>
public static unsafe class Gemm
{
    /// <summary>Whether OpenBLAS can be loaded here, so that <see cref="ComputeSettings"/> can choose <see cref="GemmBackend.OpenBlas"/>.</summary>
    public static bool IsOpenBlasAvailable => OpenBlas.IsAvailable;

    // C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C; row-major; A is k x m when transA, B is n x k when transB
    /// <summary>C = alpha * op(A) * op(B) + beta * C; op(X) = X^T when the flag is set; beta = 0 ignores C's old contents.</summary>
    /// <remarks>As in BLAS, A and B are not read when alpha = 0 or k = 0. With the managed backend each element of C
    /// is summed over k in a fixed order by one thread, so results do not depend on the thread count.</remarks>
    /// <exception cref="ArgumentException">A size is negative, a leading dimension is less than its matrix's
    /// row length, or a span is too short.</exception>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        if (ComputeSettings.Current.GemmBackend == GemmBackend.OpenBlas) SgemmOpenBlas(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else SimdDispatch.Run(new ManagedOp(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
    }

    /// <summary>The micro-kernel for a width: 8 rows x 2 vectors where there are 32 vector registers (AVX-512),
    /// else 6 x 2 (12 accumulators fit AVX2's and SSE's 16; on ARM64 a 6 x 8 tile leaves half of its 32 free).</summary>
    internal static void Managed<TS, TV>(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc) where TS : ISimd<TV> where TV : struct
    {
        if (TS.Width == 16) Managed<Kernel8x2<TS, TV>>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else Managed<Kernel6x2<TS, TV>>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    private readonly ref struct ManagedOp(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc) : ISimdOperation
    {
        private readonly ReadOnlySpan<float> _a = a, _b = b;
        private readonly Span<float> _c = c;

        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct =>
            Managed<TS, TV>(transA, transB, m, n, k, alpha, _a, lda, _b, ldb, beta, _c, ldc);
    }

    // C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, as Sgemm
    /// <summary>The managed GEMM with a chosen micro-kernel (tests run every width through this).</summary>
    internal static void Managed<TK>(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc) where TK : IGemmKernel
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c)
        {
            if (k == 0 || alpha == 0) ScaleC(m, n, beta, pc, ldc);
            else GemmDriver.Run<TK>(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }

    // C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, as Sgemm
    /// <summary>The OpenBLAS backend, validated like the managed one.</summary>
    internal static void SgemmOpenBlas(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0) return;
        fixed (float* pa = a, pb = b, pc = c)
        {
            // cblas rejects leading dimensions below 1 that are legal here when k = 0
            if (k == 0 || alpha == 0) ScaleC(m, n, beta, pc, ldc);
            else OpenBlas.Sgemm(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }

    // C (m x n, ldc) = beta * C, or 0 when beta = 0 (old contents, NaN included, ignored)
    private static void ScaleC(int m, int n, float beta, float* c, nint ldc)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + i * ldc, n);
            if (beta == 0) row.Clear();
            else if (beta != 1) for (int j = 0; j < n; j++) row[j] *= beta;
        }
    }

    internal static void Validate(bool transA, bool transB, int m, int n, int k, int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"Negative GEMM size m={m}, n={n}, k={k}.");
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        Check("A", aRows, aCols, aLength, lda);
        Check("B", bRows, bCols, bLength, ldb);
        Check("C", m, n, cLength, ldc);
    }

    private static void Check(string name, int rows, int cols, int length, int ld)
    {
        if (rows == 0 || cols == 0) return;
        if (ld < cols) throw new ArgumentException($"GEMM: leading dimension of {name} is {ld}, less than its {cols} columns.");
        long needed = (long)(rows - 1) * ld + cols;
        if (length < needed) throw new ArgumentException($"GEMM: {name} ({rows} x {cols}, ld {ld}) needs {needed} elements, got {length}.");
    }

    /// <summary>The backend a value of <c>NORMNET_GEMM</c> names (null or empty: managed).</summary>
    internal static GemmBackend BackendFromName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Trim().Equals("managed", StringComparison.OrdinalIgnoreCase)) return GemmBackend.Managed;
        if (!name.Trim().Equals("openblas", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"NORMNET_GEMM is '{name}'; expected 'managed' or 'openblas'.");
        OpenBlas.EnsureAvailable();
        return GemmBackend.OpenBlas;
    }
}
