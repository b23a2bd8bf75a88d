namespace NormNet.Distributed;

/// <summary>The group of one: rank 0 of 1, where a sum over ranks is the value itself and a gather is a copy. What
/// every process not started by <c>mpiexec</c> uses; it needs no native library.</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    /// <summary>The shared instance (it has no state).</summary>
    public static SingleProcessCommunicator Instance { get; } = new();

    /// <inheritdoc />
    public int Rank => 0;

    /// <inheritdoc />
    public int Size => 1;

    /// <inheritdoc />
    public string Description => "single process";

    /// <inheritdoc />
    public void AllReduceSum(Span<float> data) { }

    /// <inheritdoc />
    public void AllReduceSum(Span<double> data) { }

    /// <inheritdoc />
    public void AllGather<T>(ReadOnlySpan<T> local, Span<T> all) where T : unmanaged
    {
        CommunicatorChecks.GatherLength(local.Length, all.Length, 1);
        local.CopyTo(all);
    }

    /// <inheritdoc />
    public void Broadcast<T>(Span<T> data, int root = 0) where T : unmanaged => CommunicatorChecks.Root(root, 1);

    /// <inheritdoc />
    public void Barrier() { }

    /// <inheritdoc />
    public void Abort(int exitCode, string message)
    {
        Console.Error.WriteLine(message);
        Environment.Exit(exitCode);
    }

    /// <inheritdoc />
    public void Dispose() { }
}
