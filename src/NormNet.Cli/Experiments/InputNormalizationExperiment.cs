using NormNet.Cli.Output;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>Seed section 1: standardized inputs make the cost bowl round, so gradient descent takes larger steps
/// and converges in fewer iterations. Logistic regression on two features, the second one scaled up.</summary>
internal sealed class InputNormalizationExperiment : Experiment
{
    private static readonly double[] Scales = [1, 10, 100, 1000];
    private const double PlotScale = 10;

    public override string Name => "input-normalization";
    public override string Title => "Normalizing the inputs makes gradient descent faster (seed section 1)";
    public override string Claim =>
        "Seed section 1: when features have very different scales the cost function is an elongated bowl, so gradient " +
        "descent needs a small learning rate and many iterations; standardizing the inputs (zero mean, unit variance) " +
        "makes the bowl round, allowing a larger learning rate and faster convergence.";
    public override bool UsesImageData => false;

    public override void Run(ExperimentContext c)
    {
        int samples = c.Pick(2000, 1000, 200), maxIterations = c.Pick(200_000, 50_000, 2_000);
        c.Setting("samples", samples);
        c.Setting("max_iterations", maxIterations);
        c.Setting("tolerance", LogisticProblem.Tolerance);
        c.Setting("seed", c.Seed);
        var data = LogisticProblem.Generate(samples, c.Seed);
        var problems = new List<(string Series, LogisticProblem Problem)> { ("standardized", data.Standardized()) };
        problems.AddRange(Scales.Select(s => ($"raw_x{s:0}", data.Scaled(s))));
        foreach (var (series, p) in problems)
        {
            c.Results.Add("problem", series, null, "condition_number", p.ConditionNumber());
            double maxStable = p.LargestStableLearningRate();
            c.Results.Add("problem", series, null, "largest_stable_lr", maxStable);
            // converge at the best rate of a log grid up to the stability limit
            var (best, iterations) = p.FastestConvergence(maxStable, maxIterations);
            c.Results.Add("problem", series, null, "best_lr", best);
            c.Results.Add("problem", series, null, "iterations_to_converge", iterations);
            if (series is "standardized" || series == $"raw_x{PlotScale:0}")
            {
                var path = p.Descend(best, Math.Min(60, maxIterations), p.StartPoint());
                for (int i = 0; i < path.Count; i++)
                {
                    c.Results.Add("path", series, i, "w1", path[i].W1);
                    c.Results.Add("path", series, i, "w2", path[i].W2);
                    c.Results.Add("path", series, i, "cost", path[i].Cost);
                }
            }
        }
    }

    public override string Report(ResultsTable r, string dir, ReportWriter w)
    {
        int samples = (int)r.Get("settings", "run", "samples");
        double maxIterations = r.Get("settings", "run", "max_iterations");
        // the surface is a picture of the same seeded problem; the numbers all come from results.csv
        var data = LogisticProblem.Generate(samples, (ulong)r.Get("settings", "run", "seed"));
        string raw = Contour(r, dir, $"raw_x{PlotScale:0}", data.Scaled(PlotScale), $"Raw inputs (feature 2 scaled x{PlotScale:0}): elongated bowl");
        string std = Contour(r, dir, "standardized", data.Standardized(), "Standardized inputs: round bowl");

        var rows = new List<string[]>();
        foreach (var series in new[] { "standardized" }.Concat(Scales.Select(s => $"raw_x{s:0}")))
        {
            double it = r.Get("problem", series, "iterations_to_converge");
            rows.Add([series == "standardized" ? "standardized" : $"raw, feature 2 x{series[5..]}", G(r.Get("problem", series, "condition_number")),
                G(r.Get("problem", series, "largest_stable_lr")), G(r.Get("problem", series, "best_lr")),
                double.IsNaN(it) ? $"> {maxIterations:0}" : $"{it:0}"]);
        }
        var lrPlot = Charts.New("Largest stable learning rate vs feature scale", "scale factor of feature 2 (log scale)", "largest stable learning rate (log scale)");
        double[] xs = Scales.Select(Math.Log10).ToArray();
        Charts.Line(lrPlot, xs, Scales.Select(s => Math.Log10(r.Get("problem", $"raw_x{s:0}", "largest_stable_lr"))).ToArray(), "raw inputs", 1, markers: true);
        double stdLr = Math.Log10(r.Get("problem", "standardized", "largest_stable_lr"));
        Charts.Line(lrPlot, xs, xs.Select(_ => stdLr).ToArray(), "standardized inputs (any scale)", 0, markers: true);
        Charts.LogX(lrPlot);
        Charts.LogY(lrPlot);
        string lr = Charts.Save(lrPlot, dir, "learning_rate", ScottPlot.Alignment.LowerLeft);

        w.Heading("Setting");
        w.Paragraph($"Logistic regression without bias on two centred features of {samples} seeded samples from two Gaussian classes; " +
            "full-batch gradient descent from the same starting model. For the raw problem the second feature is multiplied by a scale " +
            "factor; the standardized problem divides each feature by its standard deviation (any scale factor gives the same one). " +
            $"A learning rate is stable when 200 iterations do not increase the cost; convergence means the cost is within " +
            $"{G(r.Get("settings", "run", "tolerance"))} of its minimum (found by Newton's method), searched over a log grid of rates " +
            $"up to the stable limit, at most {maxIterations:0} iterations.");
        w.Heading("Results");
        w.Image(raw, "cost contours and descent path, raw inputs");
        w.Image(std, "cost contours and descent path, standardized inputs");
        w.Table(["inputs", "condition number of the Hessian", "largest stable learning rate", "learning rate used", "iterations to converge"], rows);
        w.Image(lr, "largest stable learning rate vs scale");
        double itStd = r.Get("problem", "standardized", "iterations_to_converge"), itRaw = r.Get("problem", "raw_x1000", "iterations_to_converge");
        double lrStd = r.Get("problem", "standardized", "largest_stable_lr"), lrRaw = r.Get("problem", "raw_x1000", "largest_stable_lr");
        bool held = lrStd > 10 * lrRaw && (double.IsNaN(itRaw) || itStd < itRaw);
        string verdict = (held ? "Held" : "Not shown in this run") +
            $": with feature 2 scaled x1000 the largest stable learning rate is {G(lrRaw)} and gradient descent needs " +
            $"{(double.IsNaN(itRaw) ? $"more than {maxIterations:0}" : $"{itRaw:0}")} iterations; standardized, the rate can be {G(lrStd)} " +
            $"({G(lrStd / lrRaw)}x larger) and it converges in {itStd:0} iterations.";
        w.Heading("Conclusion");
        w.Paragraph(verdict);
        return verdict;
    }

    private static string Contour(ResultsTable r, string dir, string series, LogisticProblem p, string title)
    {
        var w1 = r.Series("path", series, "w1").Y;
        var w2 = r.Series("path", series, "w2").Y;
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
        return Charts.Save(plot, dir, $"contours_{series}", ScottPlot.Alignment.UpperRight);
    }
}
