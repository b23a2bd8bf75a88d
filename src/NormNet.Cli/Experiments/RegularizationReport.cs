using NormNet.Cli.Output;
using NormNet.Cli.Science;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>The regularization report: train-test gaps of BN, no BN and dropout per batch size over seeds; the
/// verdict asks whether BN's gap is smaller than no-BN's and whether the reduction is larger at the smallest batch.</summary>
internal sealed class RegularizationReport(ResultsTable r, string dir, ReportWriter w, ExperimentMode mode)
{
    private readonly double[] _batches = r.Series("settings", "grid", "batch_sizes").Y;
    private readonly ulong[] _seeds = r.Seeds();

    private double[] Gap(string net, double batch) => r.PerSeed("training", net, "gap", batch);

    /// <summary>Per seed: net's gap minus the no-BN gap at one batch size.</summary>
    private double[] Reduction(string net, double batch) => Gap(net, batch).Zip(Gap("baseline", batch), (a, b) => a - b).ToArray();

    /// <summary>Per seed: the mean over <paramref name="batches"/> of net's gap minus the no-BN gap.</summary>
    private double[] MeanReduction(string net, IReadOnlyList<double> batches) => batches.Count == 0 ? []
        : Enumerable.Range(0, _seeds.Length).Select(i => batches.Select(b => Reduction(net, b)[i]).Average()).ToArray();

    private double MeanTrain(string net, double batch) => Stats.Mean(r.PerSeed("training", net, "train_accuracy", batch).Where(double.IsFinite).ToArray());

    /// <summary>A gap measures regularization only against a control that fitted its training set about as well: the
    /// batch sizes at which BN's and the no-BN net's mean train accuracies are within 5 points.</summary>
    private List<double> Comparable() => _batches.Where(b => Math.Abs(MeanTrain("bn", b) - MeanTrain("baseline", b)) <= FitTolerance).ToList();

    private const double FitTolerance = 0.05;

    private string Cell(string net, double batch, string metric)
    {
        int diverged = r.PerSeed("training", net, "diverged", batch).Count(v => v == 1);
        string value = Stats.Estimate(r.PerSeed("training", net, metric, batch)).MeanSd(Pct);
        return diverged == 0 ? value : $"{value} ({diverged} diverged)";
    }

    public string Write()
    {
        var comparable = Comparable();
        double small = comparable.Count > 0 ? comparable.Min() : double.NaN, large = comparable.Count > 1 ? comparable.Max() : double.NaN;
        var overall = Stats.Estimate(MeanReduction("bn", comparable));
        var trend = comparable.Count > 1 ? Stats.Estimate(Reduction("bn", small).Zip(Reduction("bn", large), (a, b) => a - b)) : Stats.Estimate([]);
        var dropout = Stats.Estimate(MeanReduction("dropout", _batches));
        var shrinks = Verdict.Of(overall, Direction.Negative);
        var more = Verdict.Of(trend, Direction.Negative);
        var reference = Verdict.Of(dropout, Direction.Negative);
        WriteSetting();
        w.Heading("Results: generalization gap");
        w.Table(["batch", "learning rate", "no BN train", "no BN test", "no BN gap", "BN train", "BN test", "BN gap", "dropout train", "dropout test", "dropout gap"],
            _batches.Select(b => new[] { $"{b:0}", G(r.PerSeed("training", "bn", "learning_rate", b)[0]) }
                .Concat(RegularizationExperiment.Nets.SelectMany(n => new[] { Cell(n, b, "train_accuracy"), Cell(n, b, "test_accuracy"), Cell(n, b, "gap") })).ToArray()));
        w.Image(GapFigure(), "generalization gap vs batch size");
        w.Paragraph("The effect on the gap, per batch size: each net's gap minus the no-BN gap of the same seed (below zero: a smaller gap than without BN).");
        w.Table(["batch", "BN gap - no-BN gap (95% CI)", "dropout gap - no-BN gap (95% CI)", "train accuracy, BN - no BN", "comparable fit (within 5 points)"],
            _batches.Select(b => new[] { $"{b:0}", Stats.Estimate(Reduction("bn", b)).WithInterval(Pp), Stats.Estimate(Reduction("dropout", b)).WithInterval(Pp),
                Pp(MeanTrain("bn", b) - MeanTrain("baseline", b)), comparable.Contains(b) ? "yes" : "no" }));
        w.Image(EffectFigure(), "gap minus no-BN gap vs batch size");
        WriteNoise();
        string lead = Verdict.Lead(Verdict.All(shrinks, more), mode == ExperimentMode.Smoke);
        string over = comparable.Count == 0 ? "at no batch size did BN and the control fit their training sets within 5 points of each other, so no gap compares like with like"
            : $"at batch size{(comparable.Count > 1 ? "s" : "")} {string.Join(", ", comparable.Select(b => $"{b:0}"))}, where BN and the control fitted their training sets within 5 points, " +
              $"BN changed the train-test gap by {overall.WithInterval(Pp)} against the same network without BN ({Verdict.Word(shrinks).ToLowerInvariant()} for a smaller gap)";
        string across = comparable.Count > 1
            ? $"; that change at batch {small:0} minus at batch {large:0} is {trend.WithInterval(Pp)} ({Verdict.Word(more).ToLowerInvariant()} for more regularization at smaller batches)"
            : "; with fewer than two such batch sizes the dependence on the batch size cannot be tested (inconclusive)";
        string verdict = lead + ": " + over + across +
            $"; dropout (p = {G(r.Get("settings", "run", "dropout_p"))}), the known regularizer, changed the gap by {dropout.WithInterval(Pp)} averaged over all batch sizes " +
            $"({Seeds(_seeds.Length)}).";
        w.Heading("Conclusion");
        w.Paragraph(verdict + " " + (reference == Outcome.Held
            ? "Dropout's reduction shows the protocol can detect a regularizer; BN's effect is to be read against it."
            : "Dropout did not clearly reduce the gap under this protocol either, so the protocol is a weak detector of regularization and a null result for BN says little.") +
            " " + FitSentence());
        return verdict;
    }

    /// <summary>Where the fits differed, which way: the batch sizes the effects had to leave out.</summary>
    private string FitSentence()
    {
        var apart = _batches.Where(b => !Comparable().Contains(b)).ToList();
        return apart.Count == 0 ? "BN and the control fitted their training sets within 5 points at every batch size, so every gap compares like with like."
            : $"Left out of the effects: batch {string.Join(", ", apart.Select(b => $"{b:0} (train accuracy BN - no BN {Pp(MeanTrain("bn", b) - MeanTrain("baseline", b))})"))}; " +
              "there the nets' gaps differ as much by how well they fitted as by any regularization, and the test accuracies in the table are the fairer comparison.";
    }

    private void WriteSetting()
    {
        w.Heading("Setting");
        w.Paragraph($"The paper's 784-100-100-100-10 sigmoid network, weights N(0, {G(r.Get("settings", "run", "init_std"))}), trained on " +
            $"{r.Get("settings", "run", "train_images"):0} training images for {r.Get("settings", "run", "epochs"):0} epochs (long enough to overfit) at mini-batch sizes " +
            $"{string.Join(", ", _batches.Select(b => $"{b:0}"))}, three ways from the same seed: without BN (the control), with BN, and without BN with dropout " +
            $"(p = {G(r.Get("settings", "run", "dropout_p"))}) after each hidden sigmoid as the known regularizer; plain SGD with the learning rate scaled with the " +
            $"square root of the batch size ({G(r.Get("settings", "run", "base_lr"))} at batch {r.Get("settings", "run", "base_batch"):0}; linear scaling made the no-BN control " +
            "stall at the largest batch). " +
            "Accuracies in eval mode on those training images and on the whole test set; the gap is train minus test accuracy.");
        w.Paragraph("A gap says something about regularization only against a control that fitted its training set about as well (a net that " +
            "underfits has a small gap for want of fitting). So the effects use the batch sizes at which BN's and the no-BN net's mean train " +
            "accuracies are within 5 points. Two effects, per seed: (1) BN's gap minus the no-BN gap, averaged over those batch sizes, claimed < 0 " +
            "(BN regularizes); (2) that difference at the smallest of them minus at the largest, claimed < 0 (more regularization with noisier, " +
            "smaller batches). Held when both are. Dropout's gap minus the no-BN gap, over all batch sizes, is the reference, not part of the verdict.");
    }

    private string GapFigure()
    {
        var plot = Charts.New("Generalization gap vs mini-batch size", "mini-batch size (log scale)", "train accuracy - test accuracy");
        double[] x = _batches.Select(Math.Log10).ToArray();
        foreach (var (net, label, color) in new[] { ("baseline", "without BN", 1), ("bn", "with BN", 0), ("dropout", "dropout, no BN", 2) })
            Charts.Band(plot, x, _seeds.Select((_, i) => _batches.Select(b => Gap(net, b)[i]).ToArray()).ToList(), label, color);
        plot.Axes.Bottom.SetTicks(x, _batches.Select(b => $"{b:0}").ToArray());
        return Charts.Save(plot, dir, "gap");
    }

    private string EffectFigure()
    {
        var plot = Charts.New("Gap minus the no-BN gap (same seed)", "mini-batch size (log scale)", "difference of gaps (below 0: smaller gap)");
        double[] x = _batches.Select(Math.Log10).ToArray();
        foreach (var (net, label, color) in new[] { ("bn", "BN - no BN", 0), ("dropout", "dropout - no BN", 2) })
            Charts.Band(plot, x, _seeds.Select((_, i) => _batches.Select(b => Reduction(net, b)[i]).ToArray()).ToList(), label, color);
        Charts.Reference(plot, 0, "no effect");
        plot.Axes.Bottom.SetTicks(x, _batches.Select(b => $"{b:0}").ToArray());
        return Charts.Save(plot, dir, "gap_effect");
    }

    private void WriteNoise()
    {
        var (mx, _) = r.Series("noise", "batch_mean", "relative_spread");
        var plot = Charts.New("Noise of mini-batch statistics vs batch size", "mini-batch size m (log scale)", "relative spread around the population value (log scale)");
        int k = 0;
        foreach (var (series, label) in new[] { ("batch_mean", "batch mean: std of (mean_B - mean) / std"), ("batch_variance", "batch variance: std of (var_B - var) / var") })
        {
            var (x, y) = r.Series("noise", series, "relative_spread");
            Charts.Line(plot, x.Select(Math.Log10).ToArray(), y.Select(Math.Log10).ToArray(), label, k++, markers: true);
        }
        Charts.Line(plot, mx.Select(Math.Log10).ToArray(), mx.Select(m => Math.Log10(1 / Math.Sqrt(m))).ToArray(), "1 / sqrt(m)", 7);
        Charts.LogX(plot);
        Charts.LogY(plot);
        string noise = Charts.Save(plot, dir, "noise");
        w.Heading("Results: the noise itself");
        w.Paragraph($"Inputs of the first BN layer of a network trained with BN (seed {_seeds[0]}), over its training images: for each of its 100 units, " +
            $"{r.Get("settings", "run", "draws"):0} random mini-batches per size m; the spread of the batch mean (in units of the population std) " +
            "and of the biased batch variance (relative to the population variance), averaged over units. Theory: the mean's spread is 1/sqrt(m).");
        w.Image(noise, "noise of batch statistics vs batch size");
        w.Table(["m", "spread of batch mean", "1/sqrt(m)", "spread of batch variance"],
            mx.Select(m => new[] { $"{m:0}", N(r.Get("noise", "batch_mean", "relative_spread", m)), N(1 / Math.Sqrt(m)), N(r.Get("noise", "batch_variance", "relative_spread", m)) }));
        w.Paragraph($"Log-log slopes: {N(r.Get("noise_fit", "batch_mean", "log_log_slope"))} for the batch mean and {N(r.Get("noise_fit", "batch_variance", "log_log_slope"))} " +
            "for the batch variance (the 1/sqrt(m) law is -0.5): the noise is there, and it is larger at smaller batches; whether it regularizes is the question above.");
    }
}
