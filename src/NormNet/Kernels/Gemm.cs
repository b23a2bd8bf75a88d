namespace NormNet.Kernels;

/// <summary>Single-precision matrix product (BLAS SGEMM semantics, row-major).</summary>
public static class Gemm
{
    // C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C
    /// <summary>C = alpha * op(A) * op(B) + beta * C; op(X) = X^T when the flag is set; beta = 0 ignores C's old contents.</summary>
    /// <remarks>Each element of C is summed over k in a fixed order by one thread, so results do not depend on the thread count.</remarks>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        for (int i = 0; i < m; i++)
        {
            var row = c.Slice(i * ldc, n);
            if (beta == 0) row.Clear();
            else if (beta != 1) for (int j = 0; j < n; j++) row[j] *= beta;
            for (int p = 0; p < k; p++)
            {
                float av = alpha * (transA ? a[p * lda + i] : a[i * lda + p]);
                if (transB) for (int j = 0; j < n; j++) row[j] += av * b[j * ldb + p];
                else
                {
                    var brow = b.Slice(p * ldb, n);
                    for (int j = 0; j < n; j++) row[j] += av * brow[j];
                }
            }
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
}
