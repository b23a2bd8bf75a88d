using System.CommandLine;
using System.Globalization;
using NormNet.Cli.Experiments;
using NormNet.Cli.Output;

namespace NormNet.Cli.Commands;

/// <summary><c>normnet experiment NAME</c>: runs one of the seed's claims (or all) into a folder with results.csv, plots,
/// report.md and report.html, once per seed.</summary>
internal static class ExperimentCommand
{
    public static Command Create()
    {
        string names = string.Join(", ", ExperimentRunner.Named.Select(e => e.Name));
        string byName = string.Join(", ", ExperimentRunner.ByNameOnly.Select(e => e.Name));
        var name = new Argument<string>("name") { Description = $"One of: {names}; or all (every one but {byName}, which needs MPICH's mpiexec)." };
        var quick = new Option<bool>("--quick") { Description = "A minute or so per experiment on 2 cores, 3 seeds (the default on the embedded subset)." };
        var full = new Option<bool>("--full") { Description = "The paper's settings, 5 seeds (the default on a full data set)." };
        var smoke = new Option<bool>("--smoke") { Description = "Seconds per experiment, one seed: checks the pipeline end to end; no verdict." };
        var seeds = new Option<int?>("--seeds") { Description = "How many seeds (--seed, --seed + 1, ...); default 5 full, 3 quick, 1 smoke." };
        var steps = new Option<int?>("--steps") { Description = "Training steps per run (epochs for regularization and small-batch); default: the mode's, stated in the report." };
        var lr = new Option<string?>("--lr") { Description = "Learning rate; a comma-separated grid for fig1 (e.g. 0.1,0.5) and learning-rate." };
        var batch = new Option<string?>("--batch-size") { Description = "Mini-batch size; a comma-separated list for regularization and small-batch (e.g. 8,32,128,512)." };
        var initStd = new Option<string?>("--init-std") { Description = "Std of the N(0, s) initial weights; a comma-separated grid for fig1 (e.g. 0.05,0.1)." };
        var reuse = new Option<bool>("--reuse") { Description = "Do not measure again an experiment whose --out folder already holds results.csv from the same seeds: rewrite its plots and report from that file (the mode and protocol must be those it was measured with)." };
        var seed = CommonOptions.Seed();
        var data = CommonOptions.Data();
        var threads = CommonOptions.Threads();
        threads.Description = "Threads (default: NORMNET_NUM_THREADS or all cores): this many of the experiment's independent trainings run at once, one thread each; results do not depend on it.";
        var outDir = CommonOptions.Out("results.csv, plots, report.md and report.html (default runs/NAME-TIMESTAMP)");
        var command = new Command("experiment", $"Reproduce a claim of the batch-normalization paper: {names}; or all of them (but {byName}) with an index page.")
        {
            name, quick, full, smoke, seeds, steps, lr, batch, initStd, seed, data, threads, outDir, reuse,
        };
        command.SetAction(r =>
        {
            using var compute = CommonOptions.UseThreads(r.GetValue(threads));
            string which = r.GetValue(name)!;
            bool renamed = false;
            Experiment? experiment = which == "all" ? null : ExperimentRunner.Find(which, out renamed);
            if (new[] { r.GetValue(quick), r.GetValue(full), r.GetValue(smoke) }.Count(b => b) > 1)
                throw new UsageException("choose at most one of --quick, --full and --smoke.");
            var protocol = new Protocol(
                r.GetValue(steps) is { } s ? CommonOptions.Positive(s, "--steps") : null,
                List(r.GetValue(lr), "--lr", double.Parse, v => double.IsFinite(v) && v > 0),
                List(r.GetValue(batch), "--batch-size", int.Parse, v => v >= 2),
                List(r.GetValue(initStd), "--init-std", double.Parse, v => double.IsFinite(v) && v > 0));
            if (experiment is null && protocol != Protocol.Default)
                throw new UsageException("--steps, --lr, --batch-size and --init-std apply to one experiment, not to all.");
            var dataset = CommonOptions.LoadData(r.GetValue(data));
            bool embedded = dataset.Source.Contains("embedded", StringComparison.OrdinalIgnoreCase);
            var mode = r.GetValue(smoke) ? ExperimentMode.Smoke : r.GetValue(quick) ? ExperimentMode.Quick
                : r.GetValue(full) ? ExperimentMode.Full : embedded ? ExperimentMode.Quick : ExperimentMode.Full;
            int count = r.GetValue(seeds) is { } n ? CommonOptions.Positive(n, "--seeds") : ExperimentContext.DefaultSeeds(mode);
            ulong first = r.GetValue(seed);
            var seedList = Enumerable.Range(0, count).Select(i => first + (ulong)i).ToArray();
            string dir = r.GetValue(outDir) ?? CommonOptions.DefaultOut(experiment?.Name ?? which);
            var progress = new Progress();
            if (renamed) progress.Info($"note: the experiment '{which}' was renamed '{experiment!.Name}' (it reproduces the paper's Figure 1); running {experiment.Name}");
            progress.Info($"Data: {dataset.Description}; mode {mode.ToString().ToLowerInvariant()}; seeds {string.Join(", ", seedList)}");
            bool again = r.GetValue(reuse);
            if (again && r.GetValue(outDir) is null) throw new UsageException("--reuse needs --out: the folder that holds the measurements.");
            if (experiment is null) ExperimentRunner.RunAll(dir, mode, seedList, dataset, progress, again);
            else ExperimentRunner.Run(experiment, dir, mode, seedList, protocol, dataset, progress, again);
            return 0;
        });
        return command;
    }

    /// <summary>A comma-separated list of numbers, each checked; null when the option is absent.</summary>
    private static T[]? List<T>(string? text, string flag, Func<string, IFormatProvider, T> parse, Func<T, bool> valid)
    {
        if (text is null) return null;
        var values = new List<T>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            T v;
            try { v = parse(part, CultureInfo.InvariantCulture); }
            catch (FormatException) { throw new UsageException($"{flag}: '{part}' is not a number."); }
            catch (OverflowException) { throw new UsageException($"{flag}: '{part}' is out of range."); }
            if (!valid(v)) throw new UsageException($"{flag}: {part} is out of range.");
            values.Add(v);
        }
        return values.ToArray();
    }
}
