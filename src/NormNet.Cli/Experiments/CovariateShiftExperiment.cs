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
        int steps = c.Pick(50_000, 3_000, 40), every = c.Pick(500, 50, 10);
        c.Setting("steps", steps);
        c.Setting("record_every", every);
        c.Setting("probe_images", ProbeImages);
        c.Setting("unit", Unit);
        var probeSet = new DataLoader(c.Data.Test, Math.Min(ProbeImages, c.Data.Test.Count), shuffle: false);
        var probeBatch = probeSet.Next().Inputs.Clone();
        c.Progress.Run("covariate-shift: baseline and BN nets", 2.0 * steps, advance =>
        {
            foreach (bool bn in new[] { false, true })
            {
                string series = bn ? "bn" : "baseline";
                var (model, probes) = Probe.BeforeSigmoids(PaperMlp.Build(bn, c.Seed));
                var trainer = new Trainer(model, new Sgd(model.NamedParameters(), PaperMlp.LearningRate), new DataLoader(c.Data.Train, PaperMlp.BatchSize, c.Seed));
                var history = new List<(int Step, double[][] Mean, double[][] Std)>();
                for (int step = 0; step <= steps; step += every)
                {
                    if (step > 0) trainer.Run(step);
                    history.Add(Record(c.Results, series, step, model, probes, probeBatch));
                    advance((bn ? steps : 0) + step);
                }
                Summarize(c.Results, series, history);
            }
        });
    }

    /// <summary>Runs the probe batch through the network as training does (BN normalizes with the batch's own statistics,
    /// without touching the running averages); records the probed unit's percentiles and returns every unit's mean and std per layer.</summary>
    private static (int, double[][], double[][]) Record(ResultsTable results, string series, int step, Module model, List<Probe> probes, Tensor batch)
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
                        results.Add("percentiles", series, step, $"p{q}", column[(int)Math.Round(q / 100.0 * (n - 1))]);
                }
            }
        }
        return (step, means, stds);
    }

    /// <summary>How far each unit's input mean travels, in units of its spread, averaged over the layer's units: per record
    /// the move since the previous record, and the net shift from the first record at or after 10% of training to the end.</summary>
    private static void Summarize(ResultsTable results, string series, List<(int Step, double[][] Mean, double[][] Std)> history)
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
                results.Add($"layer{l + 1}_moves", series, history[t].Step, "mean_move", move / units);
            }
            double net = 0;
            for (int u = 0; u < units; u++)
                net += Math.Abs(history[^1].Mean[l][u] - history[from].Mean[l][u]) / (history[^1].Std[l][u] + 1e-12);
            results.Add("drift", series, l + 1, "net_shift", net / units);
        }
    }

    /// <summary>Sum of the per-record moves of a layer from 10% of training onwards.</summary>
    private static double PathLength(ResultsTable r, string series, double layer)
    {
        var (x, y) = r.Series($"layer{layer:0}_moves", series, "mean_move");
        double from = 0.1 * r.Get("settings", "run", "steps");
        return x.Zip(y).Where(p => p.First > from).Sum(p => p.Second);
    }

    public override string Report(ResultsTable r, string dir, ReportWriter w)
    {
        double steps = r.Get("settings", "run", "steps");
        var figures = new List<string>();
        foreach (var (series, label) in new[] { ("baseline", "without BN (Figure 1b)"), ("bn", "with BN (Figure 1c)") })
        {
            var plot = Charts.New($"Input of one last-hidden-layer sigmoid, {label}", "training step", "sigmoid input (pre-activation)");
            int k = 0;
            foreach (var (q, name) in new[] { ("p85", "85th percentile"), ("p50", "median"), ("p15", "15th percentile") })
            {
                var (x, y) = r.Series("percentiles", series, q);
                Charts.Line(plot, x, y, name, k++ == 1 ? (series == "bn" ? 0 : 1) : 7);
            }
            figures.Add(Charts.Save(plot, dir, $"percentiles_{series}", ScottPlot.Alignment.UpperRight));
        }
        var driftPlot = Charts.New("How far each layer's input distribution drifts (10% of training to the end)", "hidden layer", "net shift of the unit means (in stds)");
        double[] layers = [1, 2, 3];
        Charts.Line(driftPlot, layers, layers.Select(l => r.Get("drift", "baseline", "net_shift", l)).ToArray(), "without BN", 1, markers: true);
        Charts.Line(driftPlot, layers, layers.Select(l => r.Get("drift", "bn", "net_shift", l)).ToArray(), "with BN", 0, markers: true);
        driftPlot.Axes.Bottom.SetTicks(layers, ["1", "2", "3"]);
        string drift = Charts.Save(driftPlot, dir, "drift", ScottPlot.Alignment.MiddleRight);

        double P(string s, string q, double step) => r.Get("percentiles", s, q, step);
        double first = r.Series("percentiles", "baseline", "p50").X.First(x => x >= 0.1 * steps);
        w.Heading("Setting");
        w.Paragraph($"The paper's 784-100-100-100-10 sigmoid network (same settings as the `mnist` experiment), trained for {steps:0} steps " +
            $"with and without BN. Every {r.Get("settings", "run", "record_every"):0} steps the first {r.Get("settings", "run", "probe_images"):0} " +
            "test images go through the network as a training batch does (BN normalizes with the batch's own statistics; the running " +
            "averages are left untouched) and we record the input of each sigmoid; the figures follow unit " +
            $"{r.Get("settings", "run", "unit"):0} of the last hidden layer.");
        w.Heading("Results");
        foreach (var f in figures) w.Image(f, f);
        w.Table(["percentile of the sigmoid input", $"without BN, step {first:0}", $"without BN, step {steps:0}", $"with BN, step {first:0}", $"with BN, step {steps:0}"],
            new[] { "p15", "p50", "p85" }.Select(q => new[] { q, N(P("baseline", q, first)), N(P("baseline", q, steps)), N(P("bn", q, first)), N(P("bn", q, steps)) }));
        w.Paragraph("Per-layer movement of the input distribution, averaged over the layer's 100 units, from 10% of training to the end, " +
            "in units of each unit's standard deviation: the net shift is the distance each unit's mean moved from start to end (the drift the " +
            "claim is about); the path length sums its moves between records, which also counts step-to-step jitter.");
        w.Table(["hidden layer", "net shift without BN", "net shift with BN", "path length without BN", "path length with BN"],
            layers.Select(l => new[] { $"{l:0}", N(r.Get("drift", "baseline", "net_shift", l), 2), N(r.Get("drift", "bn", "net_shift", l), 2),
                N(PathLength(r, "baseline", l), 2), N(PathLength(r, "bn", l), 2) }));
        w.Image(drift, "net shift per layer");
        double baseLast = r.Get("drift", "baseline", "net_shift", 3), bnLast = r.Get("drift", "bn", "net_shift", 3);
        double baseMedianMove = Math.Abs(P("baseline", "p50", steps) - P("baseline", "p50", first));
        double bnMedianMove = Math.Abs(P("bn", "p50", steps) - P("bn", "p50", first));
        bool held = layers.All(l => r.Get("drift", "bn", "net_shift", l) < r.Get("drift", "baseline", "net_shift", l));
        string verdict = (held ? "Held" : "Not shown in this run") +
            $": from step {first:0} to {steps:0} the median input of the probed sigmoid moved by {N(baseMedianMove)} without BN and {N(bnMedianMove)} with BN; " +
            $"in the last hidden layer each unit's input mean drifted by {N(baseLast, 2)} standard deviations without BN and {N(bnLast, 2)} with BN" +
            (held ? ", and BN reduced the drift in every layer." : ".");
        w.Heading("Conclusion");
        w.Paragraph(verdict);
        return verdict;
    }
}
