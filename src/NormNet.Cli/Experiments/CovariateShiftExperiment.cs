using NormNet.Cli.Output;
using NormNet.Data;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Optim;
using NormNet.Training;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>Seed section 2 / paper Figure 1(b, c): the distribution of a sigmoid's input keeps moving during training
/// without BN and stays put with BN.</summary>
internal sealed class CovariateShiftExperiment : Experiment
{
    private const int ProbeImages = 1000, Unit = 0;

    public override string Name => "covariate-shift";
    public override string Title => "BN stabilizes the distribution of each layer's inputs (paper Figure 1b, c)";
    public override string Claim =>
        "Seed section 2 (internal covariate shift): as the earlier layers learn, the distribution of each layer's inputs " +
        "keeps changing; normalizing them with BN keeps the inputs of a layer's nonlinearity stable over training.";

    public override void Run(ExperimentContext c)
    {
        int steps = c.Protocol.StepsOr(c.Pick(50_000, 2_000, 40)), every = Math.Max(1, steps / c.Pick(100, 20, 4));
        var settings = Settings(c.Protocol);
        int batch = c.Protocol.BatchSizeOr(PaperMlp.BatchSize, Name);
        c.Setting("steps", steps);
        c.Setting("record_every", every);
        c.Setting("init_stds", settings.Select(p => p.Std).ToArray());
        c.Setting("learning_rates", settings.Select(p => p.Lr).ToArray());
        c.Setting("batch_size", batch);
        c.Setting("probe_images", ProbeImages);
        c.Setting("unit", Unit);
        var probeSet = new DataLoader(c.Data.Test, Math.Min(ProbeImages, c.Data.Test.Count), shuffle: false);
        var probeBatch = probeSet.Next().Inputs.Clone();
        var runs = (from setting in settings
                    from seed in c.Seeds
                    from bn in new[] { false, true }
                    select new ConcurrentRun(steps, (results, advance) =>
                        TrainOne(c, results, bn, setting.Std, setting.Lr, batch, steps, every, seed, probeBatch.Clone(), advance))).ToList();
        ConcurrentRuns.Execute(c.Progress, c.Results, $"covariate-shift: baseline and BN nets x {settings.Length} settings x {c.Seeds.Count} seeds", runs);
    }

    private static void TrainOne(ExperimentContext c, ResultsTable results, bool bn, double initStd, double lr, int batch, int steps, int every,
        ulong seed, Tensor probeBatch, Action<double> advance)
    {
        string series = $"{(bn ? "bn" : "baseline")}_{Fig1Experiment.Cell(initStd, lr)}";
        var (model, probes) = Probe.BeforeSigmoids(PaperMlp.Build(bn, seed, initStd));
        var trainer = new Trainer(model, new Sgd(model.NamedParameters(), lr), new DataLoader(c.Data.Train, batch, seed));
        var history = new List<(int Step, double[][] Mean, double[][] Std)>();
        for (int step = 0; step <= steps; step += every)
        {
            if (step > 0) trainer.Run(step);
            history.Add(Record(results, series, seed, step, model, probes, probeBatch));
            advance(step);
        }
        Summarize(results, series, seed, history);
    }

    /// <summary>The (initial std, learning rate) settings: the fig1 headline cell, then the opposite corner of its grid (the
    /// setting of earlier versions, where the spread of BN's sigmoid inputs grew more than without BN); --init-std and
    /// --lr give lists of equal length, or one value for all.</summary>
    private (double Std, double Lr)[] Settings(Protocol p)
    {
        double[] stds = p.InitStd ?? [PaperMlp.InitStd, 0.1], rates = p.Lr ?? [PaperMlp.LearningRate, 0.5];
        if (p.InitStd is { Length: 1 } && p.Lr is null) rates = [rates[0]];
        if (p.Lr is { Length: 1 } && p.InitStd is null) stds = [stds[0]];
        int n = Math.Max(stds.Length, rates.Length);
        if ((stds.Length != 1 && stds.Length != n) || (rates.Length != 1 && rates.Length != n))
            throw new UsageException($"{Name}: --init-std and --lr pair up, so give lists of the same length (or one value), got {stds.Length} and {rates.Length}.");
        return Enumerable.Range(0, n).Select(i => (stds[stds.Length == 1 ? 0 : i], rates[rates.Length == 1 ? 0 : i])).ToArray();
    }

    /// <summary>Runs the probe batch through the network as training does (BN normalizes with the batch's own statistics,
    /// without touching the running averages); records the probed unit's percentiles and returns every unit's mean and std per layer.</summary>
    private static (int, double[][], double[][]) Record(ResultsTable results, string series, ulong seed, int step, Module model, List<Probe> probes, Tensor batch)
    {
        var layers = model.NamedModules().Select(m => m.Module).OfType<BatchNormBase>().ToList();
        var saved = layers.Select(l => (l.Momentum, l.NumBatchesTracked)).ToList();
        foreach (var l in layers) l.Momentum = 0; // running = 1 * running + 0 * batch: unchanged
        model.Forward(batch);
        for (int i = 0; i < layers.Count; i++) (layers[i].Momentum, layers[i].NumBatchesTracked) = saved[i];
        var means = new double[probes.Count][];
        var stds = new double[probes.Count][];
        for (int layer = 0; layer < probes.Count; layer++)
        {
            var x = probes[layer].Last!;
            int n = x.Dim(0), units = x.Dim(1);
            var span = x.ReadOnlySpan;
            means[layer] = new double[units];
            stds[layer] = new double[units];
            for (int u = 0; u < units; u++)
            {
                var column = new double[n];
                for (int i = 0; i < n; i++) column[i] = span[i * units + u];
                double mean = column.Average();
                means[layer][u] = mean;
                stds[layer][u] = Math.Sqrt(column.Select(v => (v - mean) * (v - mean)).Average());
                if (layer == probes.Count - 1 && u == Unit)
                {
                    Array.Sort(column);
                    foreach (int q in new[] { 15, 50, 85 })
                        results.Add("percentiles", series, step, $"p{q}", column[(int)Math.Round(q / 100.0 * (n - 1))], seed);
                }
            }
        }
        return (step, means, stds);
    }

    /// <summary>How far each unit's input distribution travels, averaged over the layer's units: per record the move of
    /// the mean since the previous record (in units of the spread); from the first record at or after 10% of training to
    /// the end, the net shift of the mean (in stds) and the change of the spread, |ln(std_end / std_start)|.</summary>
    private static void Summarize(ResultsTable results, string series, ulong seed, List<(int Step, double[][] Mean, double[][] Std)> history)
    {
        int layers = history[0].Mean.Length, from = history.FindIndex(h => h.Step >= 0.1 * history[^1].Step);
        for (int l = 0; l < layers; l++)
        {
            int units = history[0].Mean[l].Length;
            for (int t = 1; t < history.Count; t++)
            {
                double move = 0;
                for (int u = 0; u < units; u++)
                    move += Math.Abs(history[t].Mean[l][u] - history[t - 1].Mean[l][u]) / (history[t].Std[l][u] + 1e-12);
                results.Add($"layer{l + 1}_moves", series, history[t].Step, "mean_move", move / units, seed);
            }
            double net = 0, spread = 0;
            for (int u = 0; u < units; u++)
            {
                net += Math.Abs(history[^1].Mean[l][u] - history[from].Mean[l][u]) / (history[^1].Std[l][u] + 1e-12);
                spread += Math.Abs(Math.Log((history[^1].Std[l][u] + 1e-12) / (history[from].Std[l][u] + 1e-12)));
            }
            results.Add("drift", series, l + 1, "net_shift", net / units, seed);
            results.Add("drift", series, l + 1, "spread_change", spread / units, seed);
        }
    }

    public override string Report(ResultsTable r, string dir, ReportWriter w, ExperimentMode mode) => new CovariateShiftReport(r, dir, w, mode).Write();
}
