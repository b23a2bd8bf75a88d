using NormNet.Cli.Output;
using NormNet.Cli.Science;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>The fig1 report: per grid cell the seeds' curves, the paired effects of BN on final accuracy and on the
/// steps to a target, and the outcome; the headline is the cell taken as the closest reading of the paper.</summary>
internal sealed class Fig1Report(ResultsTable r, string dir, ReportWriter w, ExperimentMode mode)
{
    private readonly double _steps = r.Get("settings", "run", "steps");
    private readonly double[] _stds = r.Series("settings", "grid", "init_stds").Y, _rates = r.Series("settings", "grid", "learning_rates").Y;
    private readonly ulong[] _seeds = r.Seeds();

    /// <summary>One cell's numbers: estimates over seeds and the outcome.</summary>
    private sealed record CellResult(double Std, double Lr, Estimate FinalBase, Estimate FinalBn, Estimate FinalDiff,
        Estimate StepsBase, Estimate StepsBn, Estimate Fewer, int BnMissed, Outcome Final, Outcome Speed, Outcome Both);

    private CellResult Measure(double std, double lr)
    {
        string cell = Fig1Experiment.Cell(std, lr);
        double[] Per(string net, string metric) => r.PerSeed("summary", $"{net}_{cell}", metric);
        double[] fb = Per("baseline", "final_accuracy"), fn = Per("bn", "final_accuracy");
        // a net that never reached the target is counted at the last step: that understates its delay, never BN's advantage
        // for BN, and understates BN's advantage when it is the baseline that never got there
        double[] sb = Per("baseline", "steps_to_target").Select(v => double.IsNaN(v) ? _steps : v).ToArray();
        double[] rawBn = Per("bn", "steps_to_target");
        double[] sn = rawBn.Select(v => double.IsNaN(v) ? _steps : v).ToArray();
        var finalDiff = Stats.Estimate(fn.Zip(fb, (a, b) => a - b));
        var fewer = Stats.Estimate(sb.Zip(sn, (a, b) => a - b));
        var final = Verdict.Of(finalDiff, Direction.Positive);
        var speed = Verdict.Of(fewer, Direction.Positive);
        return new CellResult(std, lr, Stats.Estimate(fb), Stats.Estimate(fn), finalDiff, Stats.Estimate(sb), Stats.Estimate(sn), fewer,
            rawBn.Count(double.IsNaN), final, speed, Verdict.All(final, speed));
    }

    public string Write()
    {
        var cells = _stds.SelectMany(s => _rates.Select(lr => Measure(s, lr))).ToList();
        var head = cells[0];
        var figures = cells.Select(c => (c, Figure(c, c == head))).ToList();
        string loss = LossFigure(head);
        w.Heading("Setting");
        w.Paragraph($"784-100-100-100-10 network, sigmoid hidden units, plain SGD, mini-batches of {r.Get("settings", "run", "batch_size"):0}, " +
            $"{_steps:0} steps per network; the BN network adds BatchNorm1d between each hidden Linear and its sigmoid. Test accuracy in eval mode " +
            $"(running statistics) every {r.Get("settings", "run", "eval_every"):0} steps. The paper states neither the initial weights' std " +
            "(\"small random Gaussian values\") nor the learning rate, so every combination of initial std " +
            $"{string.Join(" and ", _stds.Select(G))} with learning rate {string.Join(" and ", _rates.Select(G))} is run, each with the same seeds " +
            "(same initial draws and data order for the BN and the no-BN net). " +
            $"**The headline cell, N(0, {G(head.Std)}) with learning rate {G(head.Lr)}, is the one we take as closest to the paper's description**: " +
            "the smaller std is the more literal reading of \"small\", and the smaller rate is the conventional one for plain SGD on sigmoid units. " +
            "It is a reading, not the paper's number; the other cells show how much the conclusion depends on it.");
        w.Paragraph($"Effects, per seed and cell: *final accuracy* = BN's minus the baseline's (mean of the last 10% of evaluations), claimed > 0; " +
            $"*fewer steps* = the baseline's steps to reach {Fig1Experiment.TargetFraction * 100:0}% of the baseline's final accuracy minus BN's, claimed > 0 " +
            "(a net that never reaches the target is counted at the last step). The cell's claim is held when both effects are.");
        w.Heading("Results: the headline cell");
        w.Image(figures[0].Item2, $"test accuracy, N(0, {G(head.Std)}), learning rate {G(head.Lr)} (the cell closest to the paper's description)");
        w.Image(loss, "training loss, headline cell");
        w.Heading("Results: every cell of the grid");
        w.Table(["initial std", "learning rate", "final, no BN", "final, BN", "BN - no BN (95% CI)", "steps to target, no BN", "steps, BN", "fewer steps with BN (95% CI)", "outcome"],
            cells.Select(c => new[]
            {
                G(c.Std), G(c.Lr), c.FinalBase.MeanSd(Pct), c.FinalBn.MeanSd(Pct), c.FinalDiff.WithInterval(Pp),
                c.StepsBase.MeanSd(v => N(v, 0)), c.StepsBn.MeanSd(v => N(v, 0)) + (c.BnMissed > 0 ? $" ({c.BnMissed} never)" : ""),
                c.Fewer.WithInterval(v => N(v, 0)), $"{Verdict.Word(c.Both)} (final: {Verdict.Word(c.Final)}; speed: {Verdict.Word(c.Speed)})",
            }));
        foreach (var (c, file) in figures.Skip(1)) w.Image(file, $"test accuracy, N(0, {G(c.Std)}), learning rate {G(c.Lr)}");
        string verdict = Verdict.Lead(head.Both, mode == ExperimentMode.Smoke) +
            $": in the headline cell (N(0, {G(head.Std)}), learning rate {G(head.Lr)}) BN reached {Fig1Experiment.TargetFraction * 100:0}% of the baseline's final accuracy " +
            $"{head.Fewer.WithInterval(v => N(v, 0))} steps sooner and ended {head.FinalDiff.WithInterval(Pp)} above it ({Seeds(_seeds.Length)}); " +
            $"across the {cells.Count} cells of the grid the claim is held in {cells.Count(c => c.Both == Outcome.Held)} " +
            $"(speed held in {cells.Count(c => c.Speed == Outcome.Held)}, higher final accuracy held in {cells.Count(c => c.Final == Outcome.Held)}, " +
            $"not held in {cells.Count(c => c.Both == Outcome.NotHeld)}).";
        w.Heading("Conclusion");
        w.Paragraph(verdict + " " + GridSentence(cells));
        return verdict;
    }

    private string GridSentence(List<CellResult> cells)
    {
        static string Name(CellResult c) => $"N(0, {G(c.Std)}) with rate {G(c.Lr)}";
        var notHeld = cells.Where(c => c.Final == Outcome.NotHeld).ToList();
        var open = cells.Where(c => c.Final == Outcome.Inconclusive).ToList();
        string s = notHeld.Count == 0 ? "No cell shows BN ending below the baseline."
            : $"The baseline ends above BN in {string.Join(", ", notHeld.Select(Name))}, so the claim of a higher final accuracy depends on the unstated settings.";
        if (open.Count > 0) s += $" In {string.Join(", ", open.Select(Name))} the final accuracies cannot be told apart with these seeds: there the baseline nearly catches up, and BN's advantage is speed alone.";
        if (_steps < 50_000) s += $" These runs last {_steps:0} steps against the paper's 50,000; a baseline still climbing at the end may close more of the gap in a longer run.";
        return s;
    }

    private List<double[]> Runs(string series, string metric) => _seeds.Select(s => r.Series("curve", series, metric, s).Y).ToList();

    private string Figure(CellResult c, bool headline)
    {
        string cell = Fig1Experiment.Cell(c.Std, c.Lr);
        string title = headline ? $"Test accuracy, N(0, {G(c.Std)}), lr {G(c.Lr)}: closest to the paper (Figure 1a)" : $"Test accuracy, N(0, {G(c.Std)}), lr {G(c.Lr)}";
        var plot = Charts.New(title, "training step (mini-batches of 60)", "test accuracy (fraction correct)");
        var x = r.Series("curve", $"baseline_{cell}", "test_accuracy", _seeds[0]).X;
        Charts.Band(plot, x, Runs($"baseline_{cell}", "test_accuracy"), "without BN", 1);
        Charts.Band(plot, x, Runs($"bn_{cell}", "test_accuracy"), "with BN", 0);
        Charts.Reference(plot, Fig1Experiment.TargetFraction * c.FinalBase.Mean, $"target: {Fig1Experiment.TargetFraction * 100:0}% of the baseline's final ({Pct(Fig1Experiment.TargetFraction * c.FinalBase.Mean)})");
        plot.Axes.SetLimitsY(0, 1); // the whole accuracy scale, the same in every cell, so the cells compare at a glance
        return Charts.Save(plot, dir, headline ? "accuracy" : $"accuracy_{cell}");
    }

    private string LossFigure(CellResult c)
    {
        string cell = Fig1Experiment.Cell(c.Std, c.Lr);
        var plot = Charts.New($"Training loss, N(0, {G(c.Std)}), lr {G(c.Lr)} (mean over each evaluation interval)", "training step", "cross-entropy (nats)");
        var x = r.Series("curve", $"baseline_{cell}", "train_loss", _seeds[0]).X;
        Charts.Band(plot, x, Runs($"baseline_{cell}", "train_loss"), "without BN", 1);
        Charts.Band(plot, x, Runs($"bn_{cell}", "train_loss"), "with BN", 0);
        return Charts.Save(plot, dir, "loss");
    }
}
