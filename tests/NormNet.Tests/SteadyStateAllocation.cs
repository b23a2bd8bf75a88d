namespace NormNet.Tests;

/// <summary>Whether steady-state work allocates on this thread, measured in up to <see cref="Windows"/> windows of the
/// same work: it allocates nothing when one window allocates nothing.</summary>
/// <remarks><para>One window alone is not a sound measurement. <c>GC.GetAllocatedBytesForCurrentThread</c> now and then
/// reports a few kilobytes that no code of the window allocated: the runtime's own test of that API fails that way
/// (dotnet/runtime issues 63487 and 13502: 5-10 KB over a 1,000-byte array), and this suite failed once with 5,904
/// bytes over 10 synchronized batch norm steps that allocate nothing in every other run. The runtime also allocates once
/// in a while on the thread it runs on (reflection caches that a gen-2 collection dropped: 208 bytes here once).</para>
/// <para>Work that allocates on every step, or once in every window, still allocates in every window and fails: the
/// helper's own tests hold that.</para></remarks>
internal static class SteadyStateAllocation
{
    /// <summary>The most windows measured.</summary>
    public const int Windows = 3;

    /// <summary>Runs <paramref name="window"/> until it allocates nothing on this thread, at most <see cref="Windows"/>
    /// times, and returns the bytes each run allocated (the last is 0 when one allocated nothing).</summary>
    public static long[] Measure(Action window)
    {
        ArgumentNullException.ThrowIfNull(window);
        return Measure(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            window();
            return GC.GetAllocatedBytesForCurrentThread() - before;
        });
    }

    /// <summary>As <see cref="Measure(Action)"/>, for a window that measures its own allocation (from a point inside it)
    /// and returns it.</summary>
    public static long[] Measure(Func<long> allocatedBytesOfWindow)
    {
        ArgumentNullException.ThrowIfNull(allocatedBytesOfWindow);
        var bytes = new List<long>(Windows);
        while (bytes.Count < Windows)
        {
            bytes.Add(allocatedBytesOfWindow());
            if (bytes[^1] == 0) break;
        }
        return [.. bytes];
    }

    /// <summary>Asserts that one of up to <see cref="Windows"/> runs of <paramref name="window"/> allocated nothing on this
    /// thread; the message names <paramref name="what"/> and the bytes of every window.</summary>
    public static void AssertNone(Action window, string what) => Check(Measure(window), what);

    /// <summary>As <see cref="AssertNone(Action, string)"/>, for a window that measures its own allocation.</summary>
    public static void AssertNone(Func<long> allocatedBytesOfWindow, string what) => Check(Measure(allocatedBytesOfWindow), what);

    private static void Check(long[] bytes, string what) =>
        Assert.True(bytes[^1] == 0, $"{what}: allocated in each of {bytes.Length} windows ({string.Join(", ", bytes)} bytes)");
}
