using System.CommandLine;
using NormNet.Cli.Experiments;
using NormNet.Cli.Output;
using NormNet.Data;

namespace NormNet.Cli.Commands;

/// <summary><c>normnet experiment NAME</c>: runs one of the seed's claims (or all) into a folder with results.csv, plots and report.md.</summary>
internal static class ExperimentCommand
{
    public static Command Create()
    {
        string names = string.Join(", ", ExperimentRunner.All.Select(e => e.Name));
        var name = new Argument<string>("name") { Description = $"One of: {names}, or all." };
        var quick = new Option<bool>("--quick") { Description = "About a minute per experiment on 2 cores (the default on the embedded subset)." };
        var full = new Option<bool>("--full") { Description = "The paper's settings (the default on a full data set)." };
        var smoke = new Option<bool>("--smoke") { Description = "Seconds per experiment: checks the pipeline end to end; the numbers prove nothing." };
        var seed = CommonOptions.Seed();
        var data = CommonOptions.Data();
        var threads = CommonOptions.Threads();
        var outDir = CommonOptions.Out("results.csv, plots and report.md (default runs/NAME-TIMESTAMP)");
        var command = new Command("experiment", $"Reproduce a claim of the batch-normalization paper: {names}; or all of them with an index page.")
        {
            name, quick, full, smoke, seed, data, threads, outDir,
        };
        command.SetAction(r =>
        {
            using var compute = CommonOptions.UseThreads(r.GetValue(threads));
            string which = r.GetValue(name)!;
            Experiment? experiment = which == "all" ? null : ExperimentRunner.Find(which);
            if (new[] { r.GetValue(quick), r.GetValue(full), r.GetValue(smoke) }.Count(b => b) > 1)
                throw new UsageException("choose at most one of --quick, --full and --smoke.");
            var dataset = CommonOptions.LoadData(r.GetValue(data));
            bool embedded = dataset.Source.Contains("embedded", StringComparison.OrdinalIgnoreCase);
            var mode = r.GetValue(smoke) ? ExperimentMode.Smoke : r.GetValue(quick) ? ExperimentMode.Quick
                : r.GetValue(full) ? ExperimentMode.Full : embedded ? ExperimentMode.Quick : ExperimentMode.Full;
            string dir = r.GetValue(outDir) ?? CommonOptions.DefaultOut(which);
            var progress = new Progress();
            progress.Info($"Data: {dataset.Description}; mode {mode.ToString().ToLowerInvariant()}");
            if (experiment is null) ExperimentRunner.RunAll(dir, mode, r.GetValue(seed), dataset, progress);
            else ExperimentRunner.Run(experiment, dir, mode, r.GetValue(seed), dataset, progress);
            return 0;
        });
        return command;
    }
}
