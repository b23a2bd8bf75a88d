namespace NormNet.Kernels;

/// <summary>Per-thread scratch arrays for the kernels' small working buffers: grown on first need, then reused by every
/// later call on that thread, so a steady-state step allocates nothing. (The shared <c>ArrayPool</c> frees its arrays
/// when a full collection trims it, and renting then allocates again: other work's garbage made a steady-state
/// allocation test fail now and then.)</summary>
internal static class ThreadScratch
{
    /// <summary><paramref name="buffer"/> when it holds at least <paramref name="length"/> elements, else a new array of
    /// that length, stored in it. The contents are whatever the last user on this thread left.</summary>
    public static T[] Get<T>(ref T[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = new T[length];
        return buffer;
    }
}
