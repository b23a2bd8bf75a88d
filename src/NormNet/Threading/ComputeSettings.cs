using NormNet.Kernels;

namespace NormNet.Threading;

/// <summary>
/// How NormNet's kernels run: the most threads a kernel uses and the matrix-product backend. Immutable; a
/// setting applies to the code that runs inside <see cref="Use"/> on the calling thread (or to a
/// <see cref="Training.Trainer"/> given it), never to the whole process.
/// </summary>
/// <remarks>
/// <para>Outside any scope, kernels use <see cref="Default"/>: the environment variables <c>NORMNET_NUM_THREADS</c>
/// (else the processor count) and <c>NORMNET_GEMM</c> (<c>managed</c> or <c>openblas</c>, else managed), read once.</para>
/// <para>Two models trained on two threads can use different settings at the same time. The scope belongs to the
/// thread that enters it: code that continues on another thread (after an <c>await</c>, in a task) enters it there
/// again.</para>
/// <para>Results with the managed GEMM never depend on <see cref="MaxThreads"/>. OpenBLAS's sums may differ in the
/// last bits from the managed GEMM's and between thread counts, and OpenBLAS keeps one thread count for the whole
/// process, set before each of its calls.</para>
/// </remarks>
public sealed class ComputeSettings
{
    private static readonly Lazy<ComputeSettings> FromEnvironment = new(ReadEnvironment);
    [ThreadStatic] private static ComputeSettings? _current;

    /// <summary>Creates settings.</summary>
    /// <param name="maxThreads">The most threads a kernel uses (at least 1).</param>
    /// <param name="gemmBackend">The implementation of <see cref="Gemm.Sgemm"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxThreads"/> is below 1, or the backend is unknown.</exception>
    /// <exception cref="InvalidOperationException">OpenBLAS is chosen but cannot be loaded.</exception>
    public ComputeSettings(int maxThreads, GemmBackend gemmBackend = GemmBackend.Managed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxThreads, 1);
        if (gemmBackend == GemmBackend.OpenBlas) OpenBlas.EnsureAvailable();
        else if (gemmBackend != GemmBackend.Managed)
            throw new ArgumentOutOfRangeException(nameof(gemmBackend), gemmBackend, "Unknown GEMM backend.");
        MaxThreads = maxThreads;
        GemmBackend = gemmBackend;
    }

    /// <summary>The most threads a kernel uses. Changing it never changes results with the managed GEMM.</summary>
    public int MaxThreads { get; }

    /// <summary>The implementation that <see cref="Gemm.Sgemm"/> runs.</summary>
    public GemmBackend GemmBackend { get; }

    /// <summary>The settings from the environment variables, used outside any scope.</summary>
    /// <exception cref="InvalidOperationException"><c>NORMNET_GEMM</c> names no backend, or names OpenBLAS and it cannot be loaded.</exception>
    public static ComputeSettings Default => FromEnvironment.Value;

    /// <summary>The settings in force on this thread: the innermost <see cref="Use"/> scope's, else <see cref="Default"/>.</summary>
    public static ComputeSettings Current => _current ?? Default;

    /// <summary>Copies these settings with another thread count.</summary>
    public ComputeSettings WithMaxThreads(int maxThreads) => new(maxThreads, GemmBackend);

    /// <summary>Copies these settings with another GEMM backend.</summary>
    public ComputeSettings WithGemmBackend(GemmBackend backend) => new(MaxThreads, backend);

    /// <summary>Makes <paramref name="settings"/> <see cref="Current"/> on this thread until the returned scope is disposed
    /// (<c>using var _ = ComputeSettings.Use(s);</c>); scopes nest. Entering and leaving allocate nothing.</summary>
    public static Scope Use(ComputeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return UseIfGiven(settings);
    }

    /// <summary>As <see cref="Use"/>, or a scope that changes nothing when <paramref name="settings"/> is null.</summary>
    internal static Scope UseIfGiven(ComputeSettings? settings)
    {
        if (settings is null) return default;
        var scope = new Scope(_current, entered: true);
        _current = settings;
        return scope;
    }

    /// <summary>An entered <see cref="Use"/> scope; disposing it restores the settings in force before it.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly ComputeSettings? _previous;
        private readonly bool _entered;

        internal Scope(ComputeSettings? previous, bool entered) => (_previous, _entered) = (previous, entered);

        /// <summary>Restores the settings in force before the scope was entered.</summary>
        public void Dispose()
        {
            if (_entered) _current = _previous;
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"{MaxThreads} thread(s), {GemmBackend} GEMM";

    private static ComputeSettings ReadEnvironment()
    {
        string? env = Environment.GetEnvironmentVariable("NORMNET_NUM_THREADS");
        int threads = int.TryParse(env, out int n) && n >= 1 ? n : Math.Max(1, Environment.ProcessorCount);
        return new ComputeSettings(threads, Gemm.BackendFromName(Environment.GetEnvironmentVariable("NORMNET_GEMM")));
    }
}
