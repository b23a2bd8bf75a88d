namespace NormNet.Kernels;

/// <summary>Plain double-accumulating matrix product, the definition <see cref="Gemm"/> is tested against.</summary>
public static class GemmReference
{
    // C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C; row-major; op(A) = A^T when transA (A is k x m).
    /// <summary>C = alpha * op(A) * op(B) + beta * C in row-major storage; beta = 0 ignores C's old contents.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = transA ? a[p * lda + i] : a[i * lda + p];
                    double bv = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += av * bv;
                }
                double old = beta == 0 ? 0 : beta * (double)c[i * ldc + j];
                c[i * ldc + j] = (float)(alpha * sum + old);
            }
    }
}
