using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using NormNet.Cli.Output;
using NormNet.Cli.Science;
using NormNet.Data;
using NormNet.Serialization;

namespace NormNet.Cli.Experiments;

/// <summary>Runs experiments into folders (results.csv, timing.csv, plots, report.md, report.html) and writes the
/// index (index.md, index.html) of a run of all.</summary>
internal static class ExperimentRunner
{
    public static readonly Experiment[] All =
    [
        new InputNormalizationExperiment(), new CovariateShiftExperiment(), new Fig1Experiment(),
        new RegularizationExperiment(), new InferenceExperiment(), new LearningRateExperiment(), new SmallBatchExperiment(),
    ];

    /// <summary>Experiments that need more than .NET (sync-bn starts its ranks with MPICH's mpiexec): run by name only,
    /// never by <c>all</c>, so the main run needs nothing to be installed.</summary>
    public static readonly Experiment[] ByNameOnly = [new SyncBnExperiment()];

    /// <summary>Every experiment the command accepts by name.</summary>
    public static IEnumerable<Experiment> Named => All.Concat(ByNameOnly);

    /// <summary>The experiment called <paramref name="name"/>, or whose old name it is (then <paramref name="renamed"/> is true).</summary>
    public static Experiment Find(string name, out bool renamed)
    {
        var e = Named.FirstOrDefault(e => e.Name == name);
        renamed = e is null;
        return e ?? Named.FirstOrDefault(e => e.Aliases.Contains(name)) ?? throw new UsageException(
            $"unknown experiment '{name}'; expected one of: {string.Join(", ", Named.Select(e => e.Name))}, all (every one but {string.Join(", ", ByNameOnly.Select(e => e.Name))}).");
    }

    /// <summary>What one experiment produced: its verdict line and report body.</summary>
    public sealed record Outcome(string Verdict, ReportWriter Body);

    /// <summary>Runs one experiment into <paramref name="dir"/>, once per seed. With <paramref name="reuse"/>, a folder
    /// that already holds results.csv (and timing.csv) from the same seeds is not measured again: its plots and report
    /// are rewritten from that file.</summary>
    public static Outcome Run(Experiment experiment, string dir, ExperimentMode mode, IReadOnlyList<ulong> seeds, Protocol protocol, ImageDataset data, Progress progress, bool reuse = false)
    {
        Directory.CreateDirectory(dir);
        string csv = Path.Combine(dir, "results.csv"), timing = Path.Combine(dir, "timing.csv");
        double seconds = reuse && File.Exists(csv) && File.Exists(timing)
            ? Reused(experiment, csv, timing, seeds, progress)
            : Measure(experiment, dir, mode, seeds, protocol, data, progress);
        var results = ResultsTable.Load(csv);
        var body = new ReportWriter();
        progress.Info($"{experiment.Name}: writing plots and report");
        string verdict = experiment.Report(results, dir, body, mode);
        var head = Header(experiment, verdict, results, mode, seeds, data, seconds);
        AtomicFile.WriteAllText(Path.Combine(dir, "report.md"), $"# {experiment.Title}\n\n" + head + body);
        AtomicFile.WriteAllText(Path.Combine(dir, "report.html"), Html.Page(experiment.Title,
            $"<h1>{WebUtility.HtmlEncode(experiment.Title)}</h1>\n" + head.ToHtml(dir).Replace("<p><strong>Verdict.", "<p class=\"verdict\"><strong>Verdict.", StringComparison.Ordinal) + body.ToHtml(dir)));
        progress.Info($"{experiment.Name}: {verdict}");
        progress.Info($"  report: {Path.Combine(dir, "report.md")} (and report.html)");
        return new Outcome(verdict, body);
    }

    /// <summary>Measures into results.csv and timing.csv; returns the wall time in seconds.</summary>
    private static double Measure(Experiment experiment, string dir, ExperimentMode mode, IReadOnlyList<ulong> seeds, Protocol protocol, ImageDataset data, Progress progress)
    {
        var context = new ExperimentContext(dir, mode, seeds, protocol, data, progress);
        context.Setting("seeds", seeds.Count);
        var clock = Stopwatch.StartNew();
        experiment.Run(context);
        double seconds = clock.Elapsed.TotalSeconds;
        context.Results.Save(Path.Combine(dir, "results.csv"));
        // timing is not a result: it differs between identical runs, so it stays out of results.csv
        double peakMb = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;
        AtomicFile.WriteAllText(Path.Combine(dir, "timing.csv"), "metric,value\n" +
            string.Create(CultureInfo.InvariantCulture, $"wall_seconds,{seconds:F1}\npeak_rss_mb,{peakMb:F0}\n"));
        return seconds;
    }

    /// <summary>Checks that results.csv was measured with <paramref name="seeds"/>; returns its wall time from timing.csv.</summary>
    private static double Reused(Experiment experiment, string csv, string timing, IReadOnlyList<ulong> seeds, Progress progress)
    {
        var held = ResultsTable.Load(csv).Seeds();
        if (!held.SequenceEqual(seeds))
            throw new UsageException($"--reuse: {csv} holds seeds {string.Join(", ", held)} but this run asks for {string.Join(", ", seeds)}; " +
                "ask for the same seeds, or remove the folder to measure again.");
        var line = File.ReadLines(timing).FirstOrDefault(l => l.StartsWith("wall_seconds,", StringComparison.Ordinal))
            ?? throw new CommandFailedException($"{timing}: no wall_seconds line.");
        progress.Info($"{experiment.Name}: reusing the measurements in {csv}");
        return double.Parse(line["wall_seconds,".Length..], CultureInfo.InvariantCulture);
    }

    private static ReportWriter Header(Experiment e, string verdict, ResultsTable results, ExperimentMode mode, IReadOnlyList<ulong> seeds, ImageDataset data, double seconds)
    {
        var head = new ReportWriter();
        head.Paragraph($"**Claim tested.** {e.Claim}");
        head.Paragraph($"**Verdict.** {verdict}");
        head.Paragraph($"**How the verdict is decided.** {(mode == ExperimentMode.Smoke ? "Not at all: a smoke run checks the pipeline with one seed and tiny sizes; its numbers prove nothing. " : "")}{Verdict.Rule}");
        string seedList = seeds.Count == 1 ? $"seed {seeds[0]}" : $"{seeds.Count} seeds ({string.Join(", ", seeds)}); each number is the mean ± standard deviation over seeds unless it says otherwise";
        head.Paragraph("**Run.** " + (e.UsesImageData ? $"Data: {data.Description}. " : "Data: synthetic (see below). ") +
            string.Create(CultureInfo.InvariantCulture, $"{char.ToUpperInvariant(seedList[0])}{seedList[1..]}; mode {mode.ToString().ToLowerInvariant()}; wall time {seconds:F1} s (timing.csv). ") +
            $"Every number below comes from this run's results.csv; rerun with `normnet experiment {e.Name} --seed {seeds[0]} --seeds {seeds.Count}{ModeFlag(mode)}`.");
        head.Heading("Protocol");
        head.Paragraph("The settings of this run (the defaults of its mode unless changed on the command line, with the flag that changes them):");
        head.Table(["setting", "value", "flag"], ProtocolRows(results), text: true);
        return head;
    }

    private static IEnumerable<string[]> ProtocolRows(ResultsTable r)
    {
        foreach (var row in r.Rows.Where(x => x.Section == "settings" && x.Series == "run"))
            yield return [row.Metric.Replace('_', ' '), ReportWriter.G(row.Value), Flag(row.Metric)];
        foreach (var name in r.Rows.Where(x => x.Section == "settings" && x.Series == "grid").Select(x => x.Metric).Distinct())
            yield return [name.Replace('_', ' '), string.Join(", ", r.Series("settings", "grid", name).Y.Select(ReportWriter.G)), Flag(name)];
    }

    private static string Flag(string setting) => setting switch
    {
        "steps" or "epochs" => setting == "steps" ? "`--steps`" : "`--steps` (as epochs)",
        "learning_rate" or "learning_rates" or "base_lr" => "`--lr`",
        "batch_size" or "batch_sizes" => "`--batch-size`",
        "init_std" or "init_stds" => "`--init-std`",
        "seeds" => "`--seeds`",
        _ => "",
    };

    /// <summary>Runs every experiment (with <paramref name="reuse"/>, reusing the measurements already there) into subfolders of <paramref name="dir"/> and writes index.md and index.html.</summary>
    public static void RunAll(string dir, ExperimentMode mode, IReadOnlyList<ulong> seeds, ImageDataset data, Progress progress, bool reuse = false)
    {
        Directory.CreateDirectory(dir);
        var outcomes = new List<(Experiment E, Outcome O)>();
        foreach (var e in All) outcomes.Add((e, Run(e, Path.Combine(dir, e.Name), mode, seeds, Protocol.Default, data, progress, reuse)));
        var index = new ReportWriter();
        index.Paragraph($"Data: {data.Description}. Seeds {string.Join(", ", seeds)}; mode {mode.ToString().ToLowerInvariant()}." +
            ModeNote(mode));
        index.Paragraph($"**How verdicts are decided.** {Verdict.Rule}");
        index.Table(["experiment", "claim", "verdict"], outcomes.Select(o =>
            new[] { $"[{o.E.Name}]({o.E.Name}/report.md)", o.E.Claim.Replace('|', '/'), o.O.Verdict.Replace('|', '/') }), text: true);
        const string title = "NormNet: the seed document's claims about batch normalization, measured";
        AtomicFile.WriteAllText(Path.Combine(dir, "index.md"), $"# {title}\n\n" + index);
        var html = new StringBuilder($"<h1>{title}</h1>\n").Append(index.ToHtml(dir));
        foreach (var (e, o) in outcomes)
        {
            html.Append($"<h2><a href=\"{e.Name}/report.html\">{WebUtility.HtmlEncode(e.Title)}</a></h2>\n");
            html.Append($"<p class=\"verdict\"><strong>Verdict.</strong> {Html.Inline(o.Verdict)}</p>\n");
            var headline = o.Body.Images.FirstOrDefault();
            if (headline is not null) html.Append(Html.Figure(Path.Combine(dir, e.Name), headline, $"{e.Name}: {Path.GetFileNameWithoutExtension(headline).Replace('_', ' ')}"));
        }
        AtomicFile.WriteAllText(Path.Combine(dir, "index.html"), Html.Page(title, html.ToString()));
        progress.Info($"index: {Path.Combine(dir, "index.md")} (and index.html)");
    }

    /// <summary>What the mode means for the numbers, said on the index page so quick numbers are never read as full ones.</summary>
    private static string ModeNote(ExperimentMode mode) => mode switch
    {
        ExperimentMode.Smoke => " **Smoke run**: it checks the pipeline only; its numbers prove nothing and it gives no verdicts.",
        ExperimentMode.Quick => " **Quick mode**: reduced sizes (fewer steps, smaller training subsets, 3 seeds by default) so that the whole run " +
            "takes minutes on 2 cores; these are not the paper's settings, and a verdict here holds for this protocol only. " +
            "`--full` runs the paper's settings with 5 seeds.",
        _ => " **Full mode**: the paper's settings where it states them, 5 seeds by default.",
    };

    private static string ModeFlag(ExperimentMode mode) => mode switch
    {
        ExperimentMode.Quick => " --quick",
        ExperimentMode.Smoke => " --smoke",
        _ => " --full",
    };
}
