namespace NormNet.Kernels;

/// <summary>Which implementation <see cref="Gemm.Sgemm"/> runs.</summary>
public enum GemmBackend
{
    /// <summary>NormNet's own blocked, vectorized, multi-threaded GEMM: bit-identical for any thread count.</summary>
    Managed,

    /// <summary>OpenBLAS's <c>cblas_sgemm</c>, loaded at run time from <c>libopenblas.so.0</c>; its results may
    /// differ in the last bits between thread counts and OpenBLAS versions.</summary>
    OpenBlas,
}
