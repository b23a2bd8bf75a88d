using System.Diagnostics;
using System.Globalization;
using System.Text;
using NormNet.Cli.Output;
using NormNet.Data;
using NormNet.Serialization;

namespace NormNet.Cli.Experiments;

/// <summary>Runs experiments into folders (results.csv, timing.csv, plots, report.md) and writes the index of a run of all.</summary>
internal static class ExperimentRunner
{
    public static readonly Experiment[] All =
    [
        new InputNormalizationExperiment(), new CovariateShiftExperiment(), new MnistExperiment(),
        new RegularizationExperiment(), new InferenceExperiment(), new LearningRateExperiment(),
    ];

    public static Experiment Find(string name) =>
        All.FirstOrDefault(e => e.Name == name) ?? throw new UsageException(
            $"unknown experiment '{name}'; expected one of: {string.Join(", ", All.Select(e => e.Name))}, all.");

    /// <summary>Runs one experiment into <paramref name="dir"/>; returns its verdict line.</summary>
    public static string Run(Experiment experiment, string dir, ExperimentMode mode, ulong seed, ImageDataset data, Progress progress)
    {
        Directory.CreateDirectory(dir);
        var context = new ExperimentContext(dir, mode, seed, data, progress);
        var clock = Stopwatch.StartNew();
        experiment.Run(context);
        double seconds = clock.Elapsed.TotalSeconds;
        string csv = Path.Combine(dir, "results.csv");
        context.Results.Save(csv);
        // timing is not a result: it differs between identical runs, so it stays out of results.csv
        double peakMb = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;
        AtomicFile.WriteAllText(Path.Combine(dir, "timing.csv"), "metric,value\n" +
            string.Create(CultureInfo.InvariantCulture, $"wall_seconds,{seconds:F1}\npeak_rss_mb,{peakMb:F0}\n"));
        var results = ResultsTable.Load(csv);
        var body = new ReportWriter();
        string verdict = experiment.Report(results, dir, body);
        var report = new StringBuilder();
        report.Append($"# {experiment.Title}\n\n");
        report.Append($"**Claim tested.** {experiment.Claim}\n\n");
        report.Append($"**Verdict.** {verdict}\n\n");
        report.Append("**Run.** ").Append(experiment.UsesImageData ? $"Data: {data.Description}. " : "Data: synthetic (see below). ")
              .Append(string.Create(CultureInfo.InvariantCulture, $"Seed {seed}; mode {mode.ToString().ToLowerInvariant()}; wall time {seconds:F1} s (timing.csv). "))
              .Append("Every number below comes from this run's results.csv; ")
              .Append($"rerun with `normnet experiment {experiment.Name} --seed {seed}{ModeFlag(mode)}`.\n");
        report.Append(body);
        AtomicFile.WriteAllText(Path.Combine(dir, "report.md"), report.ToString());
        progress.Info($"{experiment.Name}: {verdict}");
        progress.Info($"  report: {Path.Combine(dir, "report.md")}");
        return verdict;
    }

    /// <summary>Runs every experiment into subfolders of <paramref name="dir"/> and writes index.md.</summary>
    public static void RunAll(string dir, ExperimentMode mode, ulong seed, ImageDataset data, Progress progress)
    {
        Directory.CreateDirectory(dir);
        var index = new StringBuilder("# NormNet: the seed document's claims about batch normalization, measured\n\n");
        index.Append($"Data: {data.Description}. Seed {seed}; mode {mode.ToString().ToLowerInvariant()}.\n\n");
        index.Append("| experiment | claim | verdict |\n|---|---|---|\n");
        foreach (var e in All)
        {
            string verdict = Run(e, Path.Combine(dir, e.Name), mode, seed, data, progress);
            index.Append($"| [{e.Name}]({e.Name}/report.md) | {e.Claim.Replace('|', '/')} | {verdict.Replace('|', '/')} |\n");
        }
        AtomicFile.WriteAllText(Path.Combine(dir, "index.md"), index.ToString());
        progress.Info($"index: {Path.Combine(dir, "index.md")}");
    }

    private static string ModeFlag(ExperimentMode mode) => mode switch
    {
        ExperimentMode.Quick => " --quick",
        ExperimentMode.Smoke => " --smoke",
        _ => " --full",
    };
}
