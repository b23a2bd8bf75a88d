using Spectre.Console;

namespace NormNet.Cli.Output;

/// <summary>Reports progress of long work: a Spectre.Console progress bar on an interactive terminal,
/// otherwise a plain line with the percentage done every 5 seconds (logs and CI never fall silent for longer).</summary>
internal sealed class Progress
{
    private readonly bool _quiet;

    public Progress(bool quiet = false) => _quiet = quiet;

    /// <summary>Runs <paramref name="work"/> with a task of <paramref name="total"/> units; the callback advances it to a given value.</summary>
    public void Run(string description, double total, Action<Action<double>> work)
    {
        if (_quiet)
        {
            work(_ => { });
            return;
        }
        if (AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected)
        {
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(description), maxValue: Math.Max(1, total));
                    work(v => task.Value = v);
                    task.Value = task.MaxValue;
                });
            return;
        }
        var started = DateTime.UtcNow;
        double value = 0;
        long lastLine = 0;
        var gate = new object();
        void Print(string why)
        {
            lock (gate)
            {
                var now = DateTime.UtcNow;
                Console.WriteLine($"  {description}: {Math.Min(100, 100 * value / Math.Max(1, total)):F0}% ({(now - started).TotalSeconds:F0} s){why}");
                lastLine = now.Ticks;
            }
        }
        Console.WriteLine($"{description} ...");
        lastLine = started.Ticks;
        // a line at least every 5 seconds, whether or not the work reports in between: no silent stretch in a log
        using var heartbeat = new Timer(_ =>
        {
            try
            {
                if (DateTime.UtcNow.Ticks - Interlocked.Read(ref lastLine) >= TimeSpan.FromSeconds(4.5).Ticks) Print("");
            }
            catch (CommandFailedException) { } // the output is gone; the work itself reports that on its next line
        }, null, 1000, 1000);
        work(v => Volatile.Write(ref value, v));
        heartbeat.Dispose();
        Console.WriteLine($"  {description}: done in {(DateTime.UtcNow - started).TotalSeconds:F1} s");
    }

    /// <summary>Prints a line unless quiet, above a live progress bar when there is one.</summary>
    public void Line(string line)
    {
        if (_quiet) return;
        if (AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected) AnsiConsole.WriteLine(line);
        else Console.WriteLine(line);
    }

    /// <summary>Prints a line unless quiet.</summary>
    public void Info(string line)
    {
        if (!_quiet) Console.WriteLine(line);
    }
}
