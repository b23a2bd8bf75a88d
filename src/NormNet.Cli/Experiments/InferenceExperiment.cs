using NormNet.Cli.Output;
using NormNet.Data;
using NormNet.Deployment;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Optim;
using NormNet.Serialization;
using NormNet.Training;
using NormNet.Cli.Science;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>Seed section 5 / paper Algorithm 2: at prediction time BN must use fixed population statistics.</summary>
internal sealed class InferenceExperiment : Experiment
{
    private static readonly int[] BatchSizes = [1, 2, 8, 100];

    public override string Name => "inference";
    public override string Title => "At prediction time BN must use fixed statistics (seed section 5, paper Algorithm 2)";
    public override string Claim =>
        "Seed section 5: after training, BN normalizes with population statistics (E[x] over mini-batch means, " +
        "Var[x] = m/(m-1) times the mean of mini-batch variances), so that a prediction depends on its input alone and not on the other examples in its batch.";

    public override void Run(ExperimentContext c)
    {
        int steps = c.Protocol.StepsOr(c.Pick(20_000, 2_000, 40));
        int batch = c.Protocol.BatchSizeOr(PaperMlp.BatchSize, Name);
        double lr = c.Protocol.LrOr(PaperMlp.LearningRate, Name), initStd = c.Protocol.InitStdOr(PaperMlp.InitStd, Name);
        c.Setting("steps", steps);
        c.Setting("batch_size", batch);
        c.Setting("learning_rate", lr);
        c.Setting("init_std", initStd);
        var runs = c.Seeds.Select(seed => new ConcurrentRun(steps, (results, advance) =>
            RunSeed(c, results, new Setting(steps, batch, lr, initStd, seed), advance))).ToList();
        ConcurrentRuns.Execute(c.Progress, c.Results, $"inference: training the BN net x {c.Seeds.Count} seeds", runs);
    }

    private sealed record Setting(int Steps, int Batch, double Lr, double InitStd, ulong Seed);

    private static void RunSeed(ExperimentContext c, ResultsTable results, Setting s, Action<double> advance)
    {
        ulong seed = s.Seed;
        var model = PaperMlp.Build(true, seed, s.InitStd);
        var trainer = new Trainer(model, new Sgd(model.NamedParameters(), s.Lr), new DataLoader(c.Data.Train, s.Batch, seed, dropLast: true));
        trainer.StepCompleted = r => { if (r.Step % 100 == 0) advance(r.Step); };
        trainer.Run(s.Steps);
        var test = new DataLoader(c.Data.Test, 1000, shuffle: false);
        results.Add("accuracy", "running_average", null, "test_accuracy", Trainer.Evaluate(model, test).Accuracy, seed);
        var trained = ModelState.ToEntries(model);

        // (b) population statistics over one epoch of training batches with the final weights
        var population = PaperMlp.Build(true, seed, s.InitStd);
        Load(population, trained);
        var epoch = new DataLoader(c.Data.Train, s.Batch, seed + 1, dropLast: true);
        BatchNormStatistics.Recompute(population, epoch, epoch.BatchesPerEpoch);
        if (seed == c.Seeds[0]) results.Setting("population_batches", epoch.BatchesPerEpoch);
        results.Add("accuracy", "population", null, "test_accuracy", Trainer.Evaluate(population, test).Accuracy, seed);
        var layers = model.NamedModules().Where(m => m.Module is BatchNormBase).Select(m => (BatchNormBase)m.Module).ToList();
        var popLayers = population.NamedModules().Where(m => m.Module is BatchNormBase).Select(m => (BatchNormBase)m.Module).ToList();
        for (int l = 0; l < layers.Count; l++)
        {
            var rm = layers[l].RunningMean!.ReadOnlySpan;
            var pm = popLayers[l].RunningMean!.ReadOnlySpan;
            var pv = popLayers[l].RunningVar!.ReadOnlySpan;
            var rv = layers[l].RunningVar!.ReadOnlySpan;
            double dm = 0, dv = 0;
            for (int j = 0; j < rm.Length; j++)
            {
                dm += Math.Abs(rm[j] - pm[j]) / Math.Sqrt(pv[j]);
                dv += Math.Abs(rv[j] - pv[j]) / pv[j];
            }
            results.Add("statistics", "running_vs_population", l + 1, "mean_diff_in_std", dm / rm.Length, seed);
            results.Add("statistics", "running_vs_population", l + 1, "variance_rel_diff", dv / rm.Length, seed);
        }

        // (c) batch statistics of each test batch: the prediction depends on the batch
        foreach (int size in BatchSizes)
        {
            double accuracy = BatchStatisticsAccuracy(trained, s.InitStd, seed, c.Data.Test, size, out bool refused);
            if (refused) results.Add("accuracy", $"batch_stats_{size}", size, "refused", 1, seed);
            else results.Add("accuracy", $"batch_stats_{size}", size, "test_accuracy", accuracy, seed);
        }
        var sorted = SortedByLabel(c.Data.Test);
        results.Add("accuracy", "batch_stats_100_one_class", 100, "test_accuracy", BatchStatisticsAccuracy(trained, s.InitStd, seed, sorted, 100, out _), seed);
    }

    private static void Load(Module model, List<SafeTensorsEntry> entries) =>
        ModelState.Load(model, SafeTensors.Parse(SafeTensors.Serialize(entries), "trained model"), "", true, "trained model");

    /// <summary>Test accuracy when every BN layer normalizes each test batch with that batch's own statistics.</summary>
    private static double BatchStatisticsAccuracy(List<SafeTensorsEntry> trained, double initStd, ulong seed, ImageSet data, int size, out bool refused)
    {
        var model = PaperMlp.Build(true, seed, initStd);
        Load(model, trained);
        model.Train(); // batch statistics; the running statistics this updates belong to a throw-away copy
        var loader = new DataLoader(data, size, shuffle: false, dropLast: true);
        int correct = 0, count = 0;
        refused = false;
        try
        {
            foreach (var b in loader.EnumerateEpoch())
            {
                correct += NormNet.Losses.Metrics.CountCorrect(model.Forward(b.Inputs), b.Labels);
                count += b.Size;
            }
        }
        catch (ArgumentException e) when (e.Message.Contains("Expected more than 1 value per channel when training", StringComparison.Ordinal))
        {
            refused = true;
            return double.NaN;
        }
        return (double)correct / count;
    }

    private static ImageSet SortedByLabel(ImageSet set)
    {
        var labels = set.Labels.ToArray();
        var order = Enumerable.Range(0, set.Count).OrderBy(i => labels[i]).ThenBy(i => i).ToArray();
        return set.Subset(order, "test set sorted by label");
    }

    public override string Report(ResultsTable r, string dir, ReportWriter w, ExperimentMode mode)
    {
        Estimate Acc(string series) => Stats.Estimate(r.PerSeed("accuracy", series, "test_accuracy"));
        Estimate Diff(string a, string b) => Stats.Estimate(r.PerSeed("accuracy", a, "test_accuracy").Zip(r.PerSeed("accuracy", b, "test_accuracy"), (x, y) => x - y));
        bool Refused(int size) => r.PerSeed("accuracy", $"batch_stats_{size}", "refused").Any(v => v == 1);
        var bars = new List<(string Label, Estimate Value, int Color)> { ("running, averages", Acc("running_average"), 0), ("population, (Alg. 2)", Acc("population"), 0) };
        foreach (int size in BatchSizes) bars.Add(($"batch stats, m={size}", Refused(size) ? default : Acc($"batch_stats_{size}"), 2));
        bars.Add(("batch stats, m=100, one class per batch", Acc("batch_stats_100_one_class"), 1));
        string figure = BarFigure(dir, bars);
        var seeds = r.Seeds();
        w.Heading("Setting");
        w.Paragraph($"The paper's 784-100-100-100-10 sigmoid network with BN (weights N(0, {G(r.Get("settings", "run", "init_std"))})), trained for " +
            $"{r.Get("settings", "run", "steps"):0} steps with batches of {r.Get("settings", "run", "batch_size"):0} at learning rate {G(r.Get("settings", "run", "learning_rate"))}, " +
            $"once per seed. The same weights are then evaluated on the test set with BN statistics from: (a) the running " +
            $"averages kept during training (momentum 0.1); (b) population statistics recomputed with the final weights over " +
            $"{r.Get("settings", "run", "population_batches"):0} training batches (Algorithm 2: E[x] = mean of batch means, Var[x] = m/(m-1) x mean of batch variances); " +
            "(c) each test batch's own statistics at batch sizes 1, 2, 8 and 100, and at 100 with batches that each hold a single class (the test set sorted by label). " +
            "The control is (b), fixed statistics; two effects per seed, claimed > 0: (b) minus (c) at m = 2, and (b) minus (c) with one class per batch.");
        w.Heading("Results");
        w.Image(figure, "accuracy by source of statistics");
        var rows = new List<string[]> { new[] { "(a) running averages", Acc("running_average").MeanSd(Pct) }, new[] { "(b) population statistics", Acc("population").MeanSd(Pct) } };
        foreach (int size in BatchSizes)
            rows.Add([$"(c) batch statistics, m = {size}", Refused(size) ? "refused: Expected more than 1 value per channel when training" : Acc($"batch_stats_{size}").MeanSd(Pct)]);
        rows.Add(["(c) batch statistics, m = 100, one class per batch", Acc("batch_stats_100_one_class").MeanSd(Pct)]);
        w.Table(["BN statistics", "test accuracy"], rows);
        var layers = r.Series("statistics", "running_vs_population", "mean_diff_in_std", seeds[0]).X;
        w.Paragraph("How far the running averages were from the population statistics, averaged over each layer's 100 units:");
        w.Table(["BN layer", "|running mean - population mean| / population std", "|running var - population var| / population var"],
            layers.Select(l => new[] { $"{l:0}", Stats.Estimate(r.PerSeed("statistics", "running_vs_population", "mean_diff_in_std", l)).MeanSd(v => N(v, 4)),
                Stats.Estimate(r.PerSeed("statistics", "running_vs_population", "variance_rel_diff", l)).MeanSd(v => N(v, 4)) }));
        var small = Diff("population", "batch_stats_2");
        var oneClass = Diff("population", "batch_stats_100_one_class");
        var popRunning = Diff("population", "running_average");
        var outcome = Verdict.All(Verdict.Of(small, Direction.Positive), Verdict.Of(oneClass, Direction.Positive));
        string verdict = Verdict.Lead(outcome, mode == ExperimentMode.Smoke) +
            $": with fixed statistics the network scores {Acc("population").MeanSd(Pct)} (population) and {Acc("running_average").MeanSd(Pct)} (running averages; " +
            $"population minus running {popRunning.WithInterval(Pp)}); normalizing each test batch with its own statistics costs {small.WithInterval(Pp)} at m = 2 and " +
            $"{oneClass.WithInterval(Pp)} when each batch of 100 holds one class, and a batch of 1 is {(Refused(1) ? "refused" : "accepted")} ({Seeds(seeds.Length)}).";
        w.Heading("Conclusion");
        w.Paragraph(verdict);
        return verdict;
    }

    private static string BarFigure(string dir, List<(string Label, Estimate Value, int Color)> bars)
    {
        var plot = Charts.New("Test accuracy of the same trained BN network, by source of BN statistics", "", "test accuracy (mean over seeds, whiskers ± sd)");
        var barPlot = plot.Add.Bars(bars.Select(b => b.Value.N == 0 ? 0 : b.Value.Mean).ToArray());
        for (int i = 0; i < barPlot.Bars.Count; i++)
        {
            var (_, value, color) = bars[i];
            barPlot.Bars[i].FillColor = Charts.ColorAt(color);
            barPlot.Bars[i].Error = double.IsNaN(value.Sd) ? 0 : value.Sd;
            barPlot.Bars[i].Label = value.N == 0 ? "refused (no bar)" : Pct(value.Mean);
        }
        barPlot.ValueLabelStyle.FontSize = 13;
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, bars.Count).Select(i => (double)i).ToArray(), bars.Select(b => b.Label.Replace(", ", "\n")).ToArray());
        plot.Axes.Bottom.TickLabelStyle.FontSize = 12;
        plot.Axes.SetLimitsY(0, 1.1);
        return Charts.Save(plot, dir, "accuracy_by_statistics");
    }
}
