using NormNet.Cli.Output;
using NormNet.Data;

namespace NormNet.Cli.Experiments;

/// <summary>How long an experiment runs: the paper's settings, about a minute on 2 cores, or seconds (a check
/// of the pipeline that proves nothing about the claim).</summary>
internal enum ExperimentMode { Full, Quick, Smoke }

/// <summary>What an experiment gets: where to write, how long to run, the seeds (every measurement is repeated for
/// each), the protocol asked for on the command line, and the data.</summary>
internal sealed class ExperimentContext(string dir, ExperimentMode mode, IReadOnlyList<ulong> seeds, Protocol protocol, ImageDataset data, Progress progress)
{
    public string Dir { get; } = dir;
    public ExperimentMode Mode { get; } = mode;
    public IReadOnlyList<ulong> Seeds { get; } = seeds;
    public Protocol Protocol { get; } = protocol;
    public ImageDataset Data { get; } = data;
    public Progress Progress { get; } = progress;
    public ResultsTable Results { get; } = new();

    /// <summary>Picks a setting by mode.</summary>
    public T Pick<T>(T full, T quick, T smoke) => Mode switch { ExperimentMode.Full => full, ExperimentMode.Quick => quick, _ => smoke };

    /// <summary>Records a setting in the results, so the report can state it from results.csv.</summary>
    public void Setting(string name, double value) => Results.Setting(name, value);

    /// <summary>Records a grid setting (one row per value, x = its index).</summary>
    public void Setting(string name, IReadOnlyList<double> values)
    {
        for (int i = 0; i < values.Count; i++) Results.Add("settings", "grid", i, name, values[i]);
    }

    /// <summary>The default number of seeds for a mode: 5 in full mode, 3 quick, 1 smoke.</summary>
    public static int DefaultSeeds(ExperimentMode mode) => mode switch { ExperimentMode.Full => 5, ExperimentMode.Quick => 3, _ => 1 };
}

/// <summary>One of the seed document's claims as a reproducible experiment: it measures into results.csv, then
/// writes its plots and report from what it reads back from that file.</summary>
internal abstract class Experiment
{
    /// <summary>Command-line name.</summary>
    public abstract string Name { get; }

    /// <summary>A figure-caption-like title.</summary>
    public abstract string Title { get; }

    /// <summary>The claim, in the seed document's words, with its section.</summary>
    public abstract string Claim { get; }

    /// <summary>Whether it trains on the image data set (false: synthetic data only).</summary>
    public virtual bool UsesImageData => true;

    /// <summary>Runs the measurements, filling <see cref="ExperimentContext.Results"/>.</summary>
    public abstract void Run(ExperimentContext context);

    /// <summary>Writes plots into <paramref name="dir"/> and the report body from the results read back from disk;
    /// returns the one-line verdict for the index page (in smoke mode it opens with <see cref="Science.Verdict.SmokeLine"/>).</summary>
    public abstract string Report(ResultsTable results, string dir, ReportWriter report, ExperimentMode mode);

    /// <summary>The first <paramref name="count"/> samples of <paramref name="set"/> (all of it when it holds no more), named for the data description.</summary>
    protected static ImageSet First(ImageSet set, int count, string name) => count >= set.Count ? set
        : set.Subset(Enumerable.Range(0, count).ToArray(), name);

    /// <summary>Other names the command accepts for this experiment (a rename keeps the old name working).</summary>
    public virtual IReadOnlyList<string> Aliases => [];
}
