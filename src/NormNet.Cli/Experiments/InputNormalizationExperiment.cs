using NormNet.Cli.Output;
using NormNet.Cli.Science;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>Seed section 1: standardized inputs make the cost bowl round, so gradient descent takes larger steps
/// and converges in fewer iterations. Logistic regression on two features, the second one scaled up.</summary>
internal sealed class InputNormalizationExperiment : Experiment
{
    private static readonly double[] Scales = [1, 10, 100, 1000];
    // the contour plots: a moderate scale, and the x1000 case the verdict quotes
    private static readonly double[] PlotScales = [10, 1000];

    public override string Name => "input-normalization";
    public override string Title => "Normalizing the inputs makes gradient descent faster (seed section 1)";
    public override string Claim =>
        "Seed section 1: when features have very different scales the cost function is an elongated bowl, so gradient " +
        "descent needs a small learning rate and many iterations; standardizing the inputs (zero mean, unit variance) " +
        "makes the bowl round, allowing a larger learning rate and faster convergence.";
    public override bool UsesImageData => false;

    public override void Run(ExperimentContext c)
    {
        int samples = c.Pick(2000, 1000, 200), maxIterations = c.Protocol.StepsOr(c.Pick(100_000, 20_000, 2_000));
        c.Setting("samples", samples);
        c.Setting("max_iterations", maxIterations);
        c.Setting("tolerance", LogisticProblem.Tolerance);
        int problems = 1 + Scales.Length;
        double total = (double)c.Seeds.Count * problems * LogisticProblem.RatesTried * maxIterations;
        c.Progress.Run($"input-normalization: {problems} problems x {c.Seeds.Count} seeds", total, advance =>
        {
            double done = 0;
            foreach (ulong seed in c.Seeds)
            {
                var data = LogisticProblem.Generate(samples, seed);
                var list = new List<(string Series, LogisticProblem Problem)> { ("standardized", data.Standardized()) };
                list.AddRange(Scales.Select(s => ($"raw_x{s:0}", data.Scaled(s))));
                foreach (var (series, p) in list)
                {
                    Measure(c, series, p, seed, maxIterations, it => advance(done + it));
                    done += LogisticProblem.RatesTried * (double)maxIterations;
                    advance(done);
                }
            }
        });
    }

    private static void Measure(ExperimentContext c, string series, LogisticProblem p, ulong seed, int maxIterations, Action<long> tick)
    {
        c.Results.Add("problem", series, null, "condition_number", p.ConditionNumber(), seed);
        double maxStable = p.LargestStableLearningRate();
        c.Results.Add("problem", series, null, "largest_stable_lr", maxStable, seed);
        // converge at the best rate of a log grid up to the stability limit
        var (best, iterations) = p.FastestConvergence(maxStable, maxIterations, tick);
        c.Results.Add("problem", series, null, "best_lr", best, seed);
        c.Results.Add("problem", series, null, "iterations_to_converge", iterations, seed);
        if (seed != c.Seeds[0] || !(series is "standardized" || PlotScales.Any(s => series == $"raw_x{s:0}"))) return;
        var path = p.Descend(best, Math.Min(60, maxIterations), p.StartPoint());
        for (int i = 0; i < path.Count; i++)
        {
            c.Results.Add("path", series, i, "w1", path[i].W1, seed);
            c.Results.Add("path", series, i, "w2", path[i].W2, seed);
            c.Results.Add("path", series, i, "cost", path[i].Cost, seed);
        }
    }

    public override string Report(ResultsTable r, string dir, ReportWriter w, ExperimentMode mode)
    {
        int samples = (int)r.Get("settings", "run", "samples");
        double maxIterations = r.Get("settings", "run", "max_iterations");
        var seeds = r.Seeds();
        // the surface is a picture of the first seed's problem; the numbers all come from results.csv
        var data = LogisticProblem.Generate(samples, seeds[0]);
        var contours = PlotScales.Select(s => Contour(r, dir, $"raw_x{s:0}", data.Scaled(s), seeds[0], $"Raw inputs, feature 2 x{s:0}: elongated bowl (equal axis scales)")).ToList();
        string std = Contour(r, dir, "standardized", data.Standardized(), seeds[0], "Standardized inputs: round bowl (equal axis scales)");
        Estimate E(string series, string metric, Func<double, double>? f = null) =>
            Stats.Estimate(r.PerSeed("problem", series, metric).Select(f ?? (v => v)));
        double Censored(double it) => double.IsNaN(it) ? maxIterations : it;
        var rows = new List<string[]>();
        foreach (var series in new[] { "standardized" }.Concat(Scales.Select(s => $"raw_x{s:0}")))
        {
            int never = r.PerSeed("problem", series, "iterations_to_converge").Count(double.IsNaN);
            var it = E(series, "iterations_to_converge", Censored);
            rows.Add([series == "standardized" ? "standardized" : $"raw, feature 2 x{series[5..]}", E(series, "condition_number").MeanSd(G),
                E(series, "largest_stable_lr").MeanSd(G), E(series, "best_lr").MeanSd(G),
                never == seeds.Length ? $"> {maxIterations:0}" : it.MeanSd(v => N(v, 0)) + (never > 0 ? $" ({never} seeds > {maxIterations:0}, counted as {maxIterations:0})" : "")]);
        }
        string lr = LearningRateFigure(r, dir, seeds);

        w.Heading("Setting");
        w.Paragraph($"Logistic regression without bias on two centred features of {samples} samples from two Gaussian classes, drawn anew for each seed; " +
            "full-batch gradient descent from the same starting model. For the raw problem the second feature is multiplied by a scale " +
            "factor; the standardized problem divides each feature by its standard deviation (any scale factor gives the same one). " +
            $"A learning rate is stable when 200 iterations do not increase the cost; convergence means the cost is within " +
            $"{G(r.Get("settings", "run", "tolerance"))} of its minimum (found by Newton's method), searched over a log grid of rates " +
            $"up to the stable limit, at most {maxIterations:0} iterations (`--steps`). The control is the raw problem with feature 2 scaled x1000; " +
            "two effects per seed: log10(largest stable rate standardized / raw) claimed > 0, and iterations to converge raw minus standardized claimed > 0 " +
            $"(a run that does not converge is counted as {maxIterations:0}, which understates the effect).");
        w.Heading("Results");
        foreach (var (file, s) in contours.Zip(PlotScales)) w.Image(file, $"cost contours and descent path, raw inputs x{s:0}");
        w.Image(std, "cost contours and descent path, standardized inputs");
        w.Table(["inputs", "condition number of the Hessian", "largest stable learning rate", "learning rate used", "iterations to converge"], rows);
        w.Image(lr, "largest stable learning rate vs scale");
        var lrEffect = Stats.Estimate(r.PerSeed("problem", "standardized", "largest_stable_lr").Zip(r.PerSeed("problem", "raw_x1000", "largest_stable_lr"), (a, b) => Math.Log10(a / b)));
        var itEffect = Stats.Estimate(r.PerSeed("problem", "raw_x1000", "iterations_to_converge").Zip(r.PerSeed("problem", "standardized", "iterations_to_converge"), (a, b) => Censored(a) - Censored(b)));
        var outcome = Verdict.All(Verdict.Of(lrEffect, Direction.Positive), Verdict.Of(itEffect, Direction.Positive));
        var itRaw = E("raw_x1000", "iterations_to_converge");
        string verdict = Verdict.Lead(outcome, mode == ExperimentMode.Smoke) +
            $": with feature 2 scaled x1000 the largest stable learning rate is {E("raw_x1000", "largest_stable_lr").MeanSd(G)} and gradient descent needs " +
            $"{(itRaw.N < seeds.Length ? $"more than {maxIterations:0} iterations in {seeds.Length - itRaw.N} of {seeds.Length} seeds" : $"{itRaw.MeanSd(v => N(v, 0))} iterations")}; " +
            $"standardized, the rate can be {E("standardized", "largest_stable_lr").MeanSd(G)} (10^{lrEffect.WithInterval(v => N(v, 2))} times larger) and it converges in " +
            $"{E("standardized", "iterations_to_converge").MeanSd(v => N(v, 0))} iterations ({Seeds(seeds.Length)}).";
        w.Heading("Conclusion");
        w.Paragraph(verdict);
        return verdict;
    }

    private static string LearningRateFigure(ResultsTable r, string dir, ulong[] seeds)
    {
        var plot = Charts.New("Largest stable learning rate vs feature scale", "scale factor of feature 2 (log scale)", "largest stable learning rate (log scale)");
        double[] xs = Scales.Select(Math.Log10).ToArray();
        Charts.Band(plot, xs, seeds.Select(s => Scales.Select(k => Math.Log10(r.Get("problem", $"raw_x{k:0}", "largest_stable_lr", seed: s))).ToArray()).ToList(), "raw inputs", 1);
        Charts.Band(plot, xs, seeds.Select(s => xs.Select(_ => Math.Log10(r.Get("problem", "standardized", "largest_stable_lr", seed: s))).ToArray()).ToList(), "standardized inputs (any scale)", 0);
        Charts.LogX(plot);
        Charts.LogY(plot);
        return Charts.Save(plot, dir, "learning_rate");
    }

    private static string Contour(ResultsTable r, string dir, string series, LogisticProblem p, ulong seed, string title)
    {
        var w1 = r.Series("path", series, "w1", seed).Y;
        var w2 = r.Series("path", series, "w2", seed).Y;
        var (lo1, hi1, lo2, hi2) = p.Window(w1, w2);
        // the surface extends past the window, so it still fills the plot once the axes are made square
        const int n = 81;
        double c1 = (lo1 + hi1) / 2, c2 = (lo2 + hi2) / 2, h1 = hi1 - lo1, h2 = hi2 - lo2;
        var grid = new ScottPlot.Coordinates3d[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double a = c1 + 1.1 * h1 * (2.0 * j / (n - 1) - 1), b = c2 + 0.7 * h2 * (2.0 * i / (n - 1) - 1);
                grid[i, j] = new ScottPlot.Coordinates3d(a, b, Math.Log(p.Cost(a, b) - p.MinimumCost + 1e-9));
            }
        var plot = Charts.New(title, "weight of feature 1, w1", "weight of feature 2, w2");
        var contours = plot.Add.ContourLines(grid, 14);
        contours.LineColor = Charts.ColorAt(7);
        contours.LabelStyle.IsVisible = false;
        Charts.Line(plot, w1, w2, "gradient descent path (first 60 steps)", 1, markers: true);
        var opt = plot.Add.Markers(new[] { p.Optimum.W1 }, new[] { p.Optimum.W2 }, ScottPlot.MarkerShape.FilledDiamond, 12, Charts.ColorAt(2));
        opt.LegendText = "minimum";
        plot.Axes.SetLimits(lo1, hi1, lo2, hi2);
        plot.Axes.SquareUnits();
        return Charts.Save(plot, dir, $"contours_{series}");
    }
}
