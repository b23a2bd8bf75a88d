using NormNet.Cli.Output;
using NormNet.Cli.Science;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>The covariate-shift report: the drift of the unit means and the change of their spread per layer, BN
/// against the same network without BN, over seeds; the verdict asks both of the last hidden layer.</summary>
internal sealed class CovariateShiftReport(ResultsTable r, string dir, ReportWriter w, ExperimentMode mode)
{
    private static readonly double[] Layers = [1, 2, 3];
    private readonly double _steps = r.Get("settings", "run", "steps");
    private readonly ulong[] _seeds = r.Seeds();
    private readonly (double Std, double Lr)[] _settings = r.Series("settings", "grid", "init_stds").Y
        .Zip(r.Series("settings", "grid", "learning_rates").Y).ToArray();
    private string _cell = "";

    private double[] Per(string net, string metric, double layer) => r.PerSeed("drift", $"{net}_{_cell}", metric, layer);

    private Estimate Diff(string metric, double layer) =>
        Stats.Estimate(Per("bn", metric, layer).Zip(Per("baseline", metric, layer), (a, b) => a - b));

    /// <summary>The outcome in the current setting: both effects in the last hidden layer.</summary>
    private Outcome Outcome3() => Verdict.All(Verdict.Of(Diff("net_shift", 3), Direction.Negative), Verdict.Of(Diff("spread_change", 3), Direction.Negative));

    public string Write()
    {
        ulong first = _seeds[0];
        var others = OtherSettings();
        var (headStd, headLr) = _settings[0];
        _cell = Fig1Experiment.Cell(headStd, headLr);
        var percentileFigures = new[] { ("baseline", "without BN (Figure 1b)", 1), ("bn", "with BN (Figure 1c)", 0) }
            .Select(p => PercentileFigure(p.Item1, p.Item2, p.Item3, first)).ToList();
        string shift = LayerFigure("net_shift", "Drift of each unit's input mean, 10% of training to the end", "net shift of the unit means (in stds)", "drift");
        string spread = LayerFigure("spread_change", "Change of each unit's input spread, 10% of training to the end", "|ln(std at end / std at 10%)|", "spread");
        double from = FirstRecord();

        WriteSetting(headStd, headLr);
        w.Heading("Results: the whole layers");
        w.Table(["hidden layer", "net shift, no BN", "net shift, BN", "BN - no BN (95% CI)", "spread change, no BN", "spread change, BN", "BN - no BN (95% CI)"],
            Layers.Select(l => new[]
            {
                $"{l:0}", E("baseline", "net_shift", l), E("bn", "net_shift", l), Diff("net_shift", l).WithInterval(v => N(v)),
                E("baseline", "spread_change", l), E("bn", "spread_change", l), Diff("spread_change", l).WithInterval(v => N(v)),
            }));
        w.Image(shift, "net shift per layer");
        w.Image(spread, "spread change per layer");
        var (growthBase, growthBn) = WriteOneSigmoid(percentileFigures, first, from);

        var shiftDiff = Diff("net_shift", 3);
        var spreadDiff = Diff("spread_change", 3);
        var outcome = Outcome3();
        if (others.Count > 0)
        {
            w.Heading("Results: the other setting");
            w.Paragraph("The same measurement in the other corner of the fig1 grid (the setting of earlier versions of this experiment), last hidden layer:");
            w.Table(["initial std", "learning rate", "net shift, BN - no BN (95% CI)", "spread change, BN - no BN (95% CI)", "probed sigmoid's spread, end / 10%: no BN / BN", "outcome"], others);
        }
        string verdict = Verdict.Lead(outcome, mode == ExperimentMode.Smoke) +
            $": in the last hidden layer BN changed the units' mean drift by {shiftDiff.WithInterval(v => N(v))} stds " +
            $"({E("baseline", "net_shift", 3)} without BN, {E("bn", "net_shift", 3)} with) and their spread change by {spreadDiff.WithInterval(v => N(v))} " +
            $"({E("baseline", "spread_change", 3)} without, {E("bn", "spread_change", 3)} with), over {Seeds(_seeds.Length)}, in the headline setting " +
            $"(N(0, {G(headStd)}), learning rate {G(headLr)}); the probed sigmoid's spread ended at {growthBase.MeanSd(Times)} its value at 10% of training " +
            $"without BN and {growthBn.MeanSd(Times)} with BN" +
            (others.Count == 0 ? "." : $"; in the other setting{(others.Count > 1 ? "s" : "")} the outcome is {string.Join(", ", others.Select(o => $"{o[5]} (N(0, {o[0]}), lr {o[1]})"))}.");
        w.Heading("Conclusion");
        w.Paragraph(verdict);
        return verdict;
    }

    /// <summary>The last hidden layer's effects in each setting after the headline one, as table rows.</summary>
    private List<string[]> OtherSettings() => _settings.Skip(1).Select(p =>
    {
        _cell = Fig1Experiment.Cell(p.Std, p.Lr);
        return new[] { G(p.Std), G(p.Lr), Diff("net_shift", 3).WithInterval(v => N(v)), Diff("spread_change", 3).WithInterval(v => N(v)),
            $"{SpreadGrowth("baseline", FirstRecord()).MeanSd(Times)} / {SpreadGrowth("bn", FirstRecord()).MeanSd(Times)}", Verdict.Word(Outcome3()) };
    }).ToList();

    private void WriteSetting(double headStd, double headLr)
    {
    w.Heading("Setting");
    w.Paragraph($"The paper's 784-100-100-100-10 sigmoid network (the fig1 headline setting: N(0, {G(headStd)}) weights, " +
        $"learning rate {G(headLr)}, batches of {r.Get("settings", "run", "batch_size"):0}), trained for {_steps:0} steps " +
        $"with and without BN from the same seed. Every {r.Get("settings", "run", "record_every"):0} steps the first {r.Get("settings", "run", "probe_images"):0} " +
        "test images go through the network as a training batch does (BN normalizes with the batch's own statistics; the running averages are left " +
        "untouched) and we record the input of each sigmoid.");
    w.Paragraph("Two effects per layer, from the first record at or after 10% of training to the end, averaged over the layer's 100 units: the " +
        "*net shift* (how far each unit's input mean moved, in units of its standard deviation) and the *spread change* (|ln| of the ratio of " +
        "each unit's input standard deviation at the end to that at 10%). The claim says BN keeps the distribution stable: both effects, " +
        "BN minus no BN in the last hidden layer (the one Figure 1 follows), are claimed < 0.");
    }

    /// <summary>The probed unit of the headline setting; returns its spread growth without and with BN.</summary>
    private (Estimate Base, Estimate Bn) WriteOneSigmoid(List<string> percentileFigures, ulong first, double from)
    {
    w.Heading("Results: one sigmoid, as in Figure 1(b, c)");
    w.Paragraph($"Unit {r.Get("settings", "run", "unit"):0} of the last hidden layer, seed {first} (one unit of one run, a picture rather than evidence); " +
        "the table gives its percentiles over all seeds.");
    foreach (var f in percentileFigures) w.Image(f, f);
    w.Table(["sigmoid input", $"no BN, step {from:0}", $"no BN, step {_steps:0}", $"BN, step {from:0}", $"BN, step {_steps:0}"],
        new[] { "p15", "p50", "p85" }.Select(q => new[] { q, P("baseline", q, from), P("baseline", q, _steps), P("bn", q, from), P("bn", q, _steps) }));
    var growthBase = SpreadGrowth("baseline", from);
    var growthBn = SpreadGrowth("bn", from);
    w.Paragraph($"Its spread (85th minus 15th percentile) at the end was {growthBase.MeanSd(Times)} that at step {from:0} without BN and " +
        $"{growthBn.MeanSd(Times)} with BN; its median moved by {MedianMove("baseline", from).MeanSd(v => N(v))} without BN and " +
        $"{MedianMove("bn", from).MeanSd(v => N(v))} with BN.");
        return (growthBase, growthBn);
    }

    private static string Times(double v) => $"{N(v, v < 10 ? 2 : 0)}x";

    private double FirstRecord() => r.Series("percentiles", $"baseline_{_cell}", "p50", _seeds[0]).X.First(x => x >= 0.1 * _steps);

    private string E(string net, string metric, double layer) => Stats.Estimate(Per(net, metric, layer)).MeanSd(v => N(v));

    private string P(string net, string q, double step) => Stats.Estimate(_seeds.Select(s => r.Get("percentiles", $"{net}_{_cell}", q, step, s))).MeanSd(v => N(v));

    /// <summary>The probed sigmoid's spread (85th minus 15th percentile) at the end over that at <paramref name="from"/>.</summary>
    private Estimate SpreadGrowth(string net, double from) => Stats.Estimate(_seeds.Select(s =>
        (r.Get("percentiles", $"{net}_{_cell}", "p85", _steps, s) - r.Get("percentiles", $"{net}_{_cell}", "p15", _steps, s)) /
        (r.Get("percentiles", $"{net}_{_cell}", "p85", from, s) - r.Get("percentiles", $"{net}_{_cell}", "p15", from, s))));

    private Estimate MedianMove(string net, double from) => Stats.Estimate(_seeds.Select(s =>
        Math.Abs(r.Get("percentiles", $"{net}_{_cell}", "p50", _steps, s) - r.Get("percentiles", $"{net}_{_cell}", "p50", from, s))));

    private string PercentileFigure(string series, string label, int color, ulong seed)
    {
        var plot = Charts.New($"Input of one last-hidden-layer sigmoid, {label}, seed {seed}", "training step", "sigmoid input (pre-activation)");
        int k = 0;
        foreach (var (q, name) in new[] { ("p85", "85th percentile"), ("p50", "median"), ("p15", "15th percentile") })
        {
            var (x, y) = r.Series("percentiles", $"{series}_{_cell}", q, seed);
            Charts.Line(plot, x, y, name, k++ == 1 ? color : 7);
        }
        return Charts.Save(plot, dir, $"percentiles_{series}");
    }

    private string LayerFigure(string metric, string title, string yLabel, string name)
    {
        var plot = Charts.New(title, "hidden layer", yLabel);
        foreach (var (series, label, color) in new[] { ("baseline", "without BN", 1), ("bn", "with BN", 0) })
            Charts.Band(plot, Layers, _seeds.Select(s => Layers.Select(l => r.Get("drift", $"{series}_{_cell}", metric, l, s)).ToArray()).ToList(), label, color);
        plot.Axes.Bottom.SetTicks(Layers, ["1", "2", "3"]);
        plot.Axes.SetLimitsY(0, Math.Max(1e-9, 1.25 * r.Rows.Where(x => x.Section == "drift" && x.Series.EndsWith(_cell, StringComparison.Ordinal) && x.Metric == metric).Max(x => x.Value)));
        return Charts.Save(plot, dir, name);
    }
}
