namespace NormNet.Distributed;

/// <summary>Argument checks shared by the communicators, with messages that give the expected and actual values.</summary>
internal static class CommunicatorChecks
{
    public static void GatherLength(int local, int all, int size)
    {
        if ((long)local * size != all)
            throw new ArgumentException($"AllGather: expected a destination of {size} x {local} = {(long)local * size} elements, got {all}.");
    }

    public static void Root(int root, int size)
    {
        if ((uint)root >= (uint)size)
            throw new ArgumentOutOfRangeException(nameof(root), root, $"Expected a root rank in [0, {size}), got {root}.");
    }
}
