namespace NormNet.Kernels;

/// <summary>Per-thread scratch arrays for the kernels' working buffers: grown on first need, then reused by every later
/// call on that thread, so a steady-state step allocates nothing. (The shared <c>ArrayPool</c> frees its arrays when a
/// full collection trims it, and renting then allocates again: other work's garbage made a steady-state allocation test
/// fail now and then.)</summary>
internal static class ThreadScratch
{
    /// <summary><paramref name="buffer"/> when it holds at least <paramref name="length"/> elements, else a new array of
    /// that length, stored in it. The array is pinned (its address may be kept while it is used, without <c>fixed</c>);
    /// its contents are whatever the last user on this thread left.</summary>
    public static T[] Get<T>(ref T[]? buffer, int length) where T : unmanaged
    {
        if (buffer is null || buffer.Length < length) buffer = GC.AllocateUninitializedArray<T>(length, pinned: true);
        return buffer;
    }
}
