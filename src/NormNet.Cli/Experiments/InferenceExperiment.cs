using NormNet.Cli.Output;
using NormNet.Data;
using NormNet.Deployment;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Optim;
using NormNet.Serialization;
using NormNet.Training;
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
        int steps = c.Pick(20_000, 3_000, 40);
        const int batch = PaperMlp.BatchSize;
        c.Setting("steps", steps);
        c.Setting("batch_size", batch);
        var model = PaperMlp.Build(true, c.Seed);
        var train = new DataLoader(c.Data.Train, batch, c.Seed, dropLast: true);
        c.Progress.Run("inference: training the BN net", steps, advance =>
        {
            var trainer = new Trainer(model, new Sgd(model.NamedParameters(), PaperMlp.LearningRate), train);
            for (int s = 0; s < steps; s += Math.Max(1, steps / 20))
            {
                trainer.Run(Math.Min(steps, s + Math.Max(1, steps / 20)));
                advance(trainer.Step);
            }
        });
        var test = new DataLoader(c.Data.Test, 1000, shuffle: false);
        c.Results.Add("accuracy", "running_average", null, "test_accuracy", Trainer.Evaluate(model, test).Accuracy);
        var trained = ModelState.ToEntries(model);

        // (b) population statistics over one epoch of training batches with the final weights
        var population = PaperMlp.Build(true, c.Seed);
        Load(population, trained);
        var epoch = new DataLoader(c.Data.Train, batch, c.Seed + 1, dropLast: true);
        BatchNormStatistics.Recompute(population, epoch, epoch.BatchesPerEpoch);
        c.Setting("population_batches", epoch.BatchesPerEpoch);
        c.Results.Add("accuracy", "population", null, "test_accuracy", Trainer.Evaluate(population, test).Accuracy);
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
            c.Results.Add("statistics", "running_vs_population", l + 1, "mean_diff_in_std", dm / rm.Length);
            c.Results.Add("statistics", "running_vs_population", l + 1, "variance_rel_diff", dv / rm.Length);
        }

        // (c) batch statistics of each test batch: the prediction depends on the batch
        foreach (int size in BatchSizes)
        {
            double accuracy = BatchStatisticsAccuracy(trained, c, c.Data.Test, size, out bool refused);
            if (refused) c.Results.Add("accuracy", $"batch_stats_{size}", size, "refused", 1);
            else c.Results.Add("accuracy", $"batch_stats_{size}", size, "test_accuracy", accuracy);
        }
        var sorted = SortedByLabel(c.Data.Test);
        c.Results.Add("accuracy", "batch_stats_100_one_class", 100, "test_accuracy", BatchStatisticsAccuracy(trained, c, sorted, 100, out _));
    }

    private static void Load(Module model, List<SafeTensorsEntry> entries) =>
        ModelState.Load(model, SafeTensors.Parse(SafeTensors.Serialize(entries), "trained model"), "", true, "trained model");

    /// <summary>Test accuracy when every BN layer normalizes each test batch with that batch's own statistics.</summary>
    private static double BatchStatisticsAccuracy(List<SafeTensorsEntry> trained, ExperimentContext c, ImageSet data, int size, out bool refused)
    {
        var model = PaperMlp.Build(true, c.Seed);
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

    public override string Report(ResultsTable r, string dir, ReportWriter w)
    {
        double running = r.Get("accuracy", "running_average", "test_accuracy"), population = r.Get("accuracy", "population", "test_accuracy");
        var bars = new List<(string Label, double Value)> { ("running averages", running), ("population (Alg. 2)", population) };
        foreach (int size in BatchSizes)
            bars.Add(($"batch stats, m={size}", r.TryGet("accuracy", $"batch_stats_{size}", "refused", out _) ? 0 : r.Get("accuracy", $"batch_stats_{size}", "test_accuracy")));
        double oneClass = r.Get("accuracy", "batch_stats_100_one_class", "test_accuracy");
        bars.Add(("batch stats, m=100, one class per batch", oneClass));
        var plot = Charts.New("Test accuracy of the same trained BN network, by source of BN statistics", "", "test accuracy (fraction correct)");
        var barPlot = plot.Add.Bars(bars.Select(b => b.Value).ToArray());
        for (int i = 0; i < barPlot.Bars.Count; i++)
        {
            barPlot.Bars[i].FillColor = Charts.ColorAt(i < 2 ? 0 : i < bars.Count - 1 ? 2 : 1);
            barPlot.Bars[i].Label = bars[i].Value == 0 ? "refused" : Pct(bars[i].Value);
        }
        barPlot.ValueLabelStyle.FontSize = 13;
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, bars.Count).Select(i => (double)i).ToArray(), bars.Select(b => b.Label.Replace(", ", "\n")).ToArray());
        plot.Axes.Bottom.TickLabelStyle.FontSize = 12;
        plot.Axes.SetLimitsY(0, 1.08);
        string figure = Charts.Save(plot, dir, "accuracy_by_statistics");

        w.Heading("Setting");
        w.Paragraph($"The paper's 784-100-100-100-10 sigmoid network with BN, trained for {r.Get("settings", "run", "steps"):0} steps with batches of " +
            $"{r.Get("settings", "run", "batch_size"):0}. The same weights are then evaluated on the test set with BN statistics from: (a) the running " +
            $"averages kept during training (momentum 0.1); (b) population statistics recomputed with the final weights over " +
            $"{r.Get("settings", "run", "population_batches"):0} training batches (Algorithm 2: E[x] = mean of batch means, Var[x] = m/(m-1) x mean of batch variances); " +
            "(c) each test batch's own statistics at batch sizes 1, 2, 8 and 100, and at 100 with batches that each hold a single class (the test set sorted by label).");
        w.Heading("Results");
        w.Image(figure, "accuracy by source of statistics");
        var rows = new List<string[]> { new[] { "(a) running averages", Pct(running) }, new[] { "(b) population statistics", Pct(population) } };
        foreach (int size in BatchSizes)
            rows.Add([$"(c) batch statistics, m = {size}", r.TryGet("accuracy", $"batch_stats_{size}", "refused", out _)
                ? "refused: Expected more than 1 value per channel when training" : Pct(r.Get("accuracy", $"batch_stats_{size}", "test_accuracy"))]);
        rows.Add(["(c) batch statistics, m = 100, one class per batch", Pct(oneClass)]);
        w.Table(["BN statistics", "test accuracy"], rows);
        var layers = r.Series("statistics", "running_vs_population", "mean_diff_in_std").X;
        w.Paragraph("How far the running averages were from the population statistics, averaged over each layer's 100 units:");
        w.Table(["BN layer", "|running mean - population mean| / population std", "|running var - population var| / population var"],
            layers.Select(l => new[] { $"{l:0}", N(r.Get("statistics", "running_vs_population", "mean_diff_in_std", l), 4), N(r.Get("statistics", "running_vs_population", "variance_rel_diff", l), 4) }));
        double small = r.Get("accuracy", "batch_stats_2", "test_accuracy");
        bool held = population >= running - 0.005 && small < population && oneClass < population;
        string verdict = (held ? "Held" : "Not shown in this run") +
            $": with fixed statistics the network scores {Pct(population)} (population) and {Pct(running)} (running averages); normalizing with each test batch's " +
            $"own statistics it scores {Pct(small)} at m = 2 and {Pct(oneClass)} when each batch of 100 holds one class, and a batch of 1 is refused, " +
            "so a prediction must not depend on the batch.";
        w.Heading("Conclusion");
        w.Paragraph(verdict);
        return verdict;
    }
}
