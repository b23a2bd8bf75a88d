using System.Diagnostics;
using NormNet.Distributed;

namespace NormNet.DistributedChild;

/// <summary>Wraps a communicator and adds up the wall time spent in its calls (gradients, SyncBN statistics, metrics).</summary>
internal sealed class TimedCommunicator(ICommunicator inner) : ICommunicator
{
    private long _ticks;

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(0, _ticks);
    public int Rank => inner.Rank;
    public int Size => inner.Size;
    public string Description => inner.Description;
    public void AllReduceSum(Span<float> data) { long t = Stopwatch.GetTimestamp(); inner.AllReduceSum(data); _ticks += Stopwatch.GetTimestamp() - t; }
    public void AllReduceSum(Span<double> data) { long t = Stopwatch.GetTimestamp(); inner.AllReduceSum(data); _ticks += Stopwatch.GetTimestamp() - t; }
    public void AllGather<T>(ReadOnlySpan<T> local, Span<T> all) where T : unmanaged { long t = Stopwatch.GetTimestamp(); inner.AllGather(local, all); _ticks += Stopwatch.GetTimestamp() - t; }
    public void Broadcast<T>(Span<T> data, int root = 0) where T : unmanaged { long t = Stopwatch.GetTimestamp(); inner.Broadcast(data, root); _ticks += Stopwatch.GetTimestamp() - t; }
    public void Barrier() => inner.Barrier();
    public void Abort(int exitCode, string message) => inner.Abort(exitCode, message);
    public void Dispose() { }
}
