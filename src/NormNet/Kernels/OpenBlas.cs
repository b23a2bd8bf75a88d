using System.Runtime.InteropServices;
using NormNet.Threading;

namespace NormNet.Kernels;

/// <summary>
/// OpenBLAS's <c>cblas_sgemm</c>, found at run time with <see cref="NativeLibrary"/>, so NormNet builds and
/// runs without it. Its thread count follows <see cref="ComputeSettings.MaxThreads"/>.
/// </summary>
/// <remarks>OpenBLAS splits k differently for different thread counts and kernels, so unlike the managed
/// GEMM its results are not guaranteed bit-identical across thread counts or machines.</remarks>
internal static unsafe class OpenBlas
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    private static readonly string[] Candidates =
    [
        "libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
        "libopenblas.so",
        "libopenblas.dylib",
        "libopenblas.dll",
    ];

    private static readonly object Gate = new();
    private static bool _tried;
    private static string? _loadedFrom;
    private static delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemm;
    private static delegate* unmanaged<int, void> _setThreads;
    private static int _threads;

    /// <summary>Whether the library and its <c>cblas_sgemm</c> could be loaded.</summary>
    public static bool IsAvailable
    {
        get
        {
            Load();
            return _sgemm != null;
        }
    }

    /// <summary>The path or name it was loaded from, or null.</summary>
    public static string? LoadedFrom
    {
        get
        {
            Load();
            return _loadedFrom;
        }
    }

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the places looked in, unless loadable.</summary>
    public static void EnsureAvailable()
    {
        if (!IsAvailable)
            throw new InvalidOperationException(
                "The OpenBLAS GEMM backend was selected, but no OpenBLAS library with cblas_sgemm could be loaded " +
                $"(tried {string.Join(", ", Candidates)}). Install OpenBLAS (Debian: libopenblas0-pthread) or use GemmBackend.Managed.");
    }

    // C (m x n, row-major) = alpha * op(A) * op(B) + beta * C; m, n, k > 0, arguments validated
    /// <summary>Calls cblas_sgemm (row-major) after setting OpenBLAS's thread count to <see cref="ComputeSettings.MaxThreads"/>.</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        EnsureAvailable();
        int threads = ComputeSettings.Current.MaxThreads;
        if (threads != _threads && _setThreads != null)
        {
            _setThreads(threads);
            _threads = threads;
        }
        _sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    private static void Load()
    {
        if (Volatile.Read(ref _tried)) return;
        lock (Gate)
        {
            if (_tried) return;
            foreach (string name in Candidates)
            {
                if (!NativeLibrary.TryLoad(name, out nint handle)) continue;
                if (!NativeLibrary.TryGetExport(handle, "cblas_sgemm", out nint sgemm))
                {
                    NativeLibrary.Free(handle);
                    continue;
                }
                if (NativeLibrary.TryGetExport(handle, "openblas_set_num_threads", out nint setThreads))
                    _setThreads = (delegate* unmanaged<int, void>)setThreads;
                _sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)sgemm;
                _loadedFrom = name;
                break;
            }
            Volatile.Write(ref _tried, true);
        }
    }
}
