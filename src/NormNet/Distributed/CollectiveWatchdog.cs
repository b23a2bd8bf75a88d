using System.Diagnostics;
using System.Globalization;

namespace NormNet.Distributed;

/// <summary>Ends this process when one collective call has waited longer than <see cref="Timeout"/>: the last line of
/// defence against a job that hangs forever because another rank died in a way the launcher did not notice (a
/// network partition, a node that froze). MPICH's <c>mpiexec</c> already ends the whole job when a rank exits or is
/// killed, which is the usual case; the watchdog covers the rest.</summary>
/// <remarks>The timeout is <see cref="TimeoutVariable"/> seconds (0 turns the watchdog off), 600 by default: long enough
/// for rank 0 to evaluate and write a checkpoint while the others wait. On expiry it prints one line naming the rank
/// and the call, then kills its own process, which makes <c>mpiexec</c> end the rest with a non-zero exit code.</remarks>
internal sealed class CollectiveWatchdog : IDisposable
{
    /// <summary>The environment variable with the timeout in seconds.</summary>
    public const string TimeoutVariable = "NORMNET_MPI_TIMEOUT";

    private readonly int _rank;
    private readonly Thread? _thread;
    private volatile string? _call;
    private long _since;
    private volatile bool _stopped;

    public CollectiveWatchdog(int rank, TimeSpan timeout)
    {
        _rank = rank;
        Timeout = timeout;
        if (timeout <= TimeSpan.Zero) return;
        _thread = new Thread(Watch) { IsBackground = true, Name = "normnet MPI watchdog" };
        _thread.Start();
    }

    /// <summary>How long one collective may wait; zero or less: forever.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The timeout from <see cref="TimeoutVariable"/>, or 600 s.</summary>
    public static TimeSpan TimeoutFromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable(TimeoutVariable);
        if (string.IsNullOrEmpty(text)) return TimeSpan.FromSeconds(600);
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) || !(seconds >= 0))
            throw new MpiException($"{TimeoutVariable}: expected a number of seconds of at least 0, got '{text}'.");
        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>Marks the start of <paramref name="call"/>; dispose the result when it returns.</summary>
    public Scope Enter(string call)
    {
        Volatile.Write(ref _since, Stopwatch.GetTimestamp());
        _call = call;
        return new Scope(this);
    }

    public void Dispose() => _stopped = true;

    private void Watch()
    {
        while (!_stopped)
        {
            Thread.Sleep(TimeSpan.FromMilliseconds(Math.Clamp(Timeout.TotalMilliseconds / 10, 50, 1000)));
            string? call = _call;
            if (call is null) continue;
            var waited = Stopwatch.GetElapsedTime(Volatile.Read(ref _since));
            if (waited < Timeout || _call is null) continue;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"normnet: rank {_rank}: {call} waited {waited.TotalSeconds:0} s for the other ranks ({TimeoutVariable}); another rank has probably failed. Stopping the job."));
            Console.Error.Flush();
            Process.GetCurrentProcess().Kill(); // SIGKILL: mpiexec sees a dead rank and ends the others
        }
    }

    /// <summary>The extent of one collective call.</summary>
    public readonly struct Scope(CollectiveWatchdog owner) : IDisposable
    {
        /// <summary>Marks the call as returned.</summary>
        public void Dispose() => owner._call = null;
    }
}
