using NormNet.Cli.Output;
using NormNet.Cli.Science;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>The small-batch report: test accuracy per normalization and batch size over seeds (Wu and He's Figure 1),
/// where each normalization starts to fail by one stated rule, and the verdict on BN degrading while GroupNorm and
/// LayerNorm do not, as paired differences between the smallest and the largest batch.</summary>
internal sealed class SmallBatchReport(ResultsTable r, string dir, ReportWriter w, ExperimentMode mode)
{
    private static readonly Dictionary<string, string> Labels = new()
    {
        ["batch"] = "BN", ["group"] = "GroupNorm", ["layer"] = "LayerNorm", ["renorm"] = "Batch Renorm", ["ghost"] = "Ghost BN", ["none"] = "no normalization",
    };

    /// <summary>The alternatives to BN that the "best alternative" comparison picks from (not the no-normalization control).</summary>
    private static readonly string[] Alternatives = ["group", "layer", "renorm", "ghost"];

    private readonly double[] _batches = r.Series("settings", "grid", "batch_sizes").Y;
    private readonly ulong[] _seeds = r.Seeds();

    private double Small => _batches.Min();
    private double Large => _batches.Max();

    /// <summary>The reference batch each normalization is compared with: the base batch of the learning-rate rule (32, Wu
    /// and He's batch per GPU) when it was run, else the largest. Not the largest by default: with the same epochs at every
    /// batch size, batch 128 takes a quarter of batch 32's steps, and in quick mode too few to train.</summary>
    private double Reference => _batches.Contains(r.Get("settings", "run", "base_batch")) ? r.Get("settings", "run", "base_batch") : Large;

    /// <summary>Per seed (NaN where the run diverged): test accuracy.</summary>
    private double[] Acc(string norm, double batch) => r.PerSeed("training", norm, "test_accuracy", batch);

    private int Diverged(string norm, double batch) => r.PerSeed("training", norm, "diverged", batch).Count(v => v == 1);

    private static double[] Minus(double[] a, double[] b) => a.Zip(b, (x, y) => x - y).ToArray();

    /// <summary>Per seed: accuracy at <paramref name="batch"/> minus the same normalization's at the reference batch.</summary>
    private double[] Drop(string norm, double batch) => Minus(Acc(norm, batch), Acc(norm, Reference));

    /// <summary>The rule: a normalization fails at a batch size below the reference when its accuracy there minus its own
    /// at the reference batch (paired by seed) has a 95% t-interval entirely below zero, or when most of its seeds diverged there.</summary>
    public bool Fails(string norm, double batch) =>
        batch < Reference && (2 * Diverged(norm, batch) > _seeds.Length || Stats.Estimate(Drop(norm, batch)).High < 0);

    /// <summary>Where <paramref name="norm"/> starts to fail: the largest batch at which it fails by <see cref="Fails"/>; NaN if none.</summary>
    public double FailsFrom(string norm) => _batches.Where(b => Fails(norm, b)).DefaultIfEmpty(double.NaN).Max();

    private string Cell(string norm, double batch)
    {
        int diverged = Diverged(norm, batch);
        string value = Stats.Estimate(Acc(norm, batch)).MeanSd(Pct);
        return diverged == 0 ? value : $"{value} ({diverged}/{_seeds.Length} diverged)";
    }

    /// <summary>The alternative with the highest mean accuracy at <paramref name="batch"/> (diverged runs left out).
    /// Ghost BN is left out where its virtual batch is the whole batch, since there it is BN itself.</summary>
    private string BestAlternative(double batch) => Alternatives.Where(n => !IsBn(n, batch)).OrderByDescending(n => Stats.Estimate(Acc(n, batch)).Mean is var m && double.IsFinite(m) ? m : -1).First();

    /// <summary>Whether <paramref name="norm"/> is BN itself at <paramref name="batch"/>: Ghost BN whose virtual batch is the whole batch.</summary>
    private bool IsBn(string norm, double batch) => norm == "ghost" && batch <= r.Get("settings", "run", "virtual_batch");

    public string Write()
    {
        WriteSetting();
        w.Heading("Results: test accuracy against batch size");
        w.Table(["batch", "learning rate", .. SmallBatchExperiment.Norms.Select(n => Labels[n])],
            _batches.Select(b => new[] { $"{b:0}", G(r.PerSeed("training", "batch", "learning_rate", b)[0]) }
                .Concat(SmallBatchExperiment.Norms.Select(n => Cell(n, b))).ToArray()));
        w.Image(AccuracyFigure(), "test accuracy vs batch size, one line per normalization");
        WriteFailures();
        return WriteVerdict();
    }

    private void WriteSetting()
    {
        w.Heading("Setting");
        w.Paragraph($"The built-in `cnn` family, narrowed to fit the mode's time: two 3x3 convolutions of {r.Get("settings", "run", "conv_channels_1"):0} and " +
            $"{r.Get("settings", "run", "conv_channels_2"):0} channels, each followed by the normalization, ReLU and 2x2 max pooling, then a hidden " +
            $"fully connected layer of {r.Get("settings", "run", "hidden"):0} (with the normalization) and the output layer. Normalizations: BN, " +
            $"GroupNorm ({r.Get("settings", "run", "groups"):0} groups), LayerNorm, Batch Renorm (rmax 3, dmax 5), Ghost BN (virtual batches of " +
            $"{r.Get("settings", "run", "virtual_batch"):0}, or the whole batch when it is smaller, where Ghost BN is BN itself) and no normalization as " +
            $"the control. Each trained from the same seed (same initial weights where the layers match, same data order) on {r.Get("settings", "run", "train_images"):0} " +
            $"training images for {r.Get("settings", "run", "epochs"):0} epoch(s) at every batch size (so a smaller batch takes more, smaller steps), " +
            $"SGD with momentum {G(r.Get("settings", "run", "momentum"))} and the learning rate scaled linearly with the batch ({G(r.Get("settings", "run", "base_lr"))} " +
            $"at batch {r.Get("settings", "run", "base_batch"):0}); " +
            $"test accuracy in eval mode on {r.Get("settings", "run", "test_images"):0} test images. A run diverged when its loss or its test outputs became NaN or infinite; " +
            "diverged runs are drawn as markers and left out of the means and the paired differences, and the tables count them.");
    }

    private void WriteFailures()
    {
        w.Heading("Where each normalization starts to fail");
        w.Paragraph($"Rule: a normalization *fails* at a batch size below {Reference:0} when its test accuracy there minus its own at batch {Reference:0} " +
            "(paired by seed) has a 95% t-interval entirely below zero, or when most of its seeds diverged there; it *starts to fail* at the largest batch " +
            $"size at which it fails. The reference is batch {Reference:0}, the base batch of the learning-rate rule and Wu and He's batch per GPU, not the " +
            $"largest: with the same epochs everywhere, batch {Large:0} takes {Reference / Large:0.##} times as many steps. " +
            "The last column compares BN with the alternative (GroupNorm, LayerNorm, Batch Renorm, Ghost BN where it is not BN itself) of the highest " +
            "mean accuracy at that batch size.");
        w.Table(["batch", .. SmallBatchExperiment.Norms.Select(n => $"{Labels[n]} - its batch {Reference:0}"), "BN - best alternative"],
            _batches.Where(b => b != Reference).Select(b => new[] { $"{b:0}" }
                .Concat(SmallBatchExperiment.Norms.Select(n => Stats.Estimate(Drop(n, b)).WithInterval(Pp) + (Fails(n, b) ? " **fails**" : "")))
                .Append($"{Stats.Estimate(Minus(Acc("batch", b), Acc(BestAlternative(b), b))).WithInterval(Pp)} ({Labels[BestAlternative(b)]})").ToArray()));
        w.Image(DropFigure(), "accuracy minus the same normalization's at the reference batch");
        w.Paragraph(string.Join(" ", SmallBatchExperiment.Norms.Select(n => double.IsNaN(FailsFrom(n))
            ? $"{Labels[n]}: fails at no batch size by this rule."
            : $"{Labels[n]}: starts to fail at batch {FailsFrom(n):0} ({Stats.Estimate(Drop(n, FailsFrom(n))).WithInterval(Pp)} against its batch {Reference:0})" +
              $"; fails at batch{(_batches.Count(b => Fails(n, b)) > 1 ? "es" : "")} {string.Join(", ", _batches.Where(b => Fails(n, b)).Select(b => $"{b:0}"))}.")));
    }

    private string WriteVerdict()
    {
        var bnDrop = Stats.Estimate(Drop("batch", Small));
        var gnLess = Stats.Estimate(Minus(Drop("group", Small), Drop("batch", Small)));
        var lnLess = Stats.Estimate(Minus(Drop("layer", Small), Drop("batch", Small)));
        var outcome = Verdict.All(Verdict.Of(bnDrop, Direction.Negative), Verdict.Of(gnLess, Direction.Positive), Verdict.Of(lnLess, Direction.Positive));
        w.Heading("Conclusion");
        w.Paragraph($"Three effects, per seed: (1) BN's accuracy at batch {Small:0} minus at batch {Reference:0}, claimed < 0 (BN degrades as the batch shrinks); " +
            $"(2) GroupNorm's same difference minus BN's, claimed > 0, and (3) LayerNorm's, claimed > 0 (they degrade less than BN). That GroupNorm and " +
            "LayerNorm do not degrade at all is an absence of an effect, which an interval cannot show; (2) and (3) test the part that can be tested, " +
            "and their own differences are given beside.");
        string verdict = Verdict.Lead(outcome, mode == ExperimentMode.Smoke) +
            $": BN's test accuracy at batch {Small:0} minus at batch {Reference:0} is {bnDrop.WithInterval(Pp)}; GroupNorm's difference is " +
            $"{Stats.Estimate(Drop("group", Small)).WithInterval(Pp)} ({gnLess.WithInterval(Pp)} against BN's), LayerNorm's " +
            $"{Stats.Estimate(Drop("layer", Small)).WithInterval(Pp)} ({lnLess.WithInterval(Pp)} against BN's); BN " +
            (double.IsNaN(FailsFrom("batch")) ? "fails at no batch size by the stated rule" : $"starts to fail at batch {FailsFrom("batch"):0} by the stated rule") +
            $" ({Seeds(_seeds.Length)}).";
        w.Paragraph(verdict + " " + Holding());
        return verdict;
    }

    /// <summary>Which alternatives hold at the smallest batch: those that do not fail there, with their accuracy against BN's.</summary>
    private string Holding()
    {
        var hold = Alternatives.Where(n => !Fails(n, Small) && !IsBn(n, Small)).ToList();
        string list = hold.Count == 0 ? $"No alternative holds at batch {Small:0}: each fails there by the rule."
            : $"Holding at batch {Small:0} (not failing by the rule; Ghost BN left out where it is BN itself): {string.Join("; ", hold.Select(n => $"{Labels[n]}, {Stats.Estimate(Acc(n, Small)).MeanSd(Pct)}, " +
                $"{Stats.Estimate(Minus(Acc(n, Small), Acc("batch", Small))).WithInterval(Pp)} against BN"))}.";
        return list + $" The control without normalization reached {Stats.Estimate(Acc("none", Small)).MeanSd(Pct)} at batch {Small:0} and " +
            $"{Stats.Estimate(Acc("none", Reference)).MeanSd(Pct)} at batch {Reference:0}.";
    }

    private double[] X => _batches.Select(Math.Log2).ToArray();

    private string AccuracyFigure()
    {
        var plot = Charts.New("Test accuracy vs mini-batch size (as in Wu and He, Figure 1)", "mini-batch size (log2 scale)", "test accuracy");
        Lines(plot, Acc, -0.02);
        return Charts.Save(plot, dir, "accuracy");
    }

    private string DropFigure()
    {
        var plot = Charts.New($"Accuracy minus the same normalization's at batch {Reference:0} (same seed)", "mini-batch size (log2 scale)", "difference in test accuracy");
        Lines(plot, Drop, double.NaN);
        Charts.Reference(plot, 0, "no change");
        return Charts.Save(plot, dir, "drop");
    }

    /// <summary>One band per normalization over seeds, with markers for diverged runs at <paramref name="markerY"/> (below the lowest value when NaN).</summary>
    private void Lines(ScottPlot.Plot plot, Func<string, double, double[]> values, double markerY)
    {
        var norms = SmallBatchExperiment.Norms;
        var runs = norms.ToDictionary(n => n, n => _seeds.Select((_, i) => _batches.Select(b => values(n, b)[i]).ToArray()).ToList());
        double low = runs.Values.SelectMany(x => x).SelectMany(x => x).Where(double.IsFinite).DefaultIfEmpty(0).Min();
        // BN last, on top: Ghost BN is BN itself at the batches up to its virtual batch and would hide it there
        foreach (int k in Enumerable.Range(0, norms.Length).OrderBy(k => norms[k] == "batch"))
        {
            string label = norms[k] == "ghost" ? $"{Labels["ghost"]} (BN itself up to batch {r.Get("settings", "run", "virtual_batch"):0})" : Labels[norms[k]];
            Charts.Band(plot, X, runs[norms[k]], label, k);
            var diverged = _batches.Where(b => Diverged(norms[k], b) > 0).Select(Math.Log2).ToArray();
            double y = (double.IsNaN(markerY) ? low - 0.02 : markerY) - 0.015 * k;
            Charts.DivergedMarkers(plot, diverged, y, $"{Labels[norms[k]]}: diverged (at least one seed)", k);
        }
        plot.Axes.Bottom.SetTicks(X, _batches.Select(b => $"{b:0}").ToArray());
    }
}
