using System.Runtime.CompilerServices;
using NormNet.Threading;

namespace NormNet.Tests;

/// <summary>Starts the kernel worker threads that the tests ask for (up to <see cref="MostTestThreads"/>) once, when the
/// test assembly loads.</summary>
/// <remarks>Workers are created on first use, by the thread that needs them, so a zero-allocation test that is the first
/// to ask for a second or third thread would pay for creating a worker inside its measurement (seen: 8,136 bytes in
/// GemmTests.SteadyState_AllocatesNothing).</remarks>
internal static unsafe class ThreadPoolWarmup
{
    /// <summary>The most threads any test sets.</summary>
    public const int MostTestThreads = 4;

#pragma warning disable CA2255 // a module initializer in a test assembly, not a library
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void StartWorkers() =>
        TestUtil.WithThreads(MostTestThreads, () =>
        {
            Parallelism.For(MostTestThreads, null, &Nothing);
            return 0;
        });

    private static void Nothing(void* state, int chunk) { }
}
