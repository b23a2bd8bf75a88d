using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using NormNet.Threading;

namespace NormNet.Bench;

/// <summary>A timed row: an id shared with the PyTorch peer, the work, and the bytes it must move at least.</summary>
/// <param name="Id">Row name, identical in bench/peer/pytorch_rows.py.</param>
/// <param name="Setup">Builds the state and returns the action to time.</param>
/// <param name="MinBytes">Minimal memory traffic of one call (0 when not meaningful).</param>
/// <param name="Runs">Timed calls after the warm-up.</param>
internal sealed record Row(string Id, Func<Action> Setup, long MinBytes, int Runs = 20);

/// <summary>Times NormNet's rows in this process and prints one JSON object per row.</summary>
internal static class RowRunner
{
    public static int Run(string[] args)
    {
        var options = new Options(args);
        using var compute = ComputeSettings.Use(new ComputeSettings(options.Int("--threads", Environment.ProcessorCount)));
        string filter = options.Get("--filter") ?? "";
        foreach (var row in Rows.All().Where(r => r.Id.Contains(filter, StringComparison.Ordinal)))
        {
            var action = row.Setup();
            double median = MedianMs(action, row.Runs);
            // steady-state allocation, all threads included
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < 20; i++) action();
            double allocated = (GC.GetTotalAllocatedBytes(precise: true) - before) / 20.0;
            Console.WriteLine(JsonSerializer.Serialize(new { id = row.Id, median_ms = median, min_bytes = row.MinBytes, allocated_bytes_per_call = allocated }));
            GC.Collect();
        }
        return 0;
    }

    /// <summary>Median wall time of <paramref name="runs"/> calls after a warm-up of at least 50 calls and 300 ms,
    /// so that every method has left tier-0 JIT code (the peer's code is native from the start).</summary>
    public static double MedianMs(Action action, int runs)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < 50 || Stopwatch.GetElapsedTime(start).TotalMilliseconds < 300; i++) action();
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long t = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[runs / 2];
    }

    public static string Format(double v) => v.ToString(v < 1 ? "F3" : v < 100 ? "F2" : "F0", CultureInfo.InvariantCulture);
}
