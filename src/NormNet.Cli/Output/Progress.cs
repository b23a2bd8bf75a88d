using Spectre.Console;

namespace NormNet.Cli.Output;

/// <summary>Reports progress of long work: a Spectre.Console progress bar on an interactive terminal,
/// otherwise a plain line at every tenth of the work (logs and CI stay readable).</summary>
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
        int lastTenth = 0;
        var started = DateTime.UtcNow;
        var printed = started;
        Console.WriteLine($"{description} ...");
        work(v =>
        {
            // a line per tenth of the work, at most one every 5 seconds
            int tenth = (int)(10 * v / Math.Max(1, total));
            var now = DateTime.UtcNow;
            if (tenth <= lastTenth || tenth >= 10 || (now - printed).TotalSeconds < 5) return;
            lastTenth = tenth;
            printed = now;
            Console.WriteLine($"  {description}: {10 * tenth}% ({(now - started).TotalSeconds:F0} s)");
        });
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
