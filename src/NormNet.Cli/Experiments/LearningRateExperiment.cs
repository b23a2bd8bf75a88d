using NormNet.Cli.Output;
using NormNet.Cli.Science;
using NormNet.Data;
using NormNet.Models;
using NormNet.Optim;
using NormNet.Training;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>Beyond the seed (paper section 4.2.1, BN-x5 and BN-x30): BN lets a network train at much higher learning rates.</summary>
internal sealed class LearningRateExperiment : Experiment
{
    // four rates a decade, 0.01 to 316: the largest rate that trains is resolved to a factor of 1.78
    private static readonly double[] Rates = Enumerable.Range(-8, 19).Select(k => Math.Round(Math.Pow(10, k / 4.0), 4 - (int)Math.Floor(k / 4.0))).ToArray();
    private static readonly (string Series, bool BatchNorm, string Activation)[] Nets =
        [("sigmoid", false, "sigmoid"), ("sigmoid_bn", true, "sigmoid"), ("relu", false, "relu"), ("relu_bn", true, "relu")];
    private const double TrainsAbove = 0.5;

    public override string Name => "learning-rate";
    public override string Title => "BN allows much higher learning rates (paper section 4.2.1, BN-x5 and BN-x30)";
    public override string Claim =>
        "Beyond the seed (paper section 3.3 and 4.2.1): BN makes training resilient to the scale of the parameters, so a " +
        "network with BN still trains at learning rates at which the same network without BN diverges or stalls.";

    public override void Run(ExperimentContext c)
    {
        int steps = c.Protocol.StepsOr(c.Pick(3_000, 400, 20)), batch = c.Protocol.BatchSizeOr(60, Name);
        double[] rates = c.Protocol.Lr ?? (c.Mode == ExperimentMode.Smoke ? [0.1, 10] : Rates);
        c.Setting("steps", steps);
        c.Setting("batch_size", batch);
        c.Setting("threshold", TrainsAbove);
        c.Setting("learning_rates", rates);
        var runs = (from seed in c.Seeds
                    from net in Nets
                    from lr in rates
                    select new ConcurrentRun(steps, (results, advance) => TrainOne(c, results, net, lr, steps, batch, seed, advance))).ToList();
        ConcurrentRuns.Execute(c.Progress, c.Results, $"learning-rate: 4 nets x {rates.Length} learning rates x {c.Seeds.Count} seeds", runs);
        foreach (ulong seed in c.Seeds)
            foreach (var (series, _, _) in Nets)
            {
                var trained = rates.Where(lr => c.Results.TryGet("sweep", series, "test_accuracy", out double a, lr, seed) && a >= TrainsAbove).ToList();
                c.Results.Add("summary", series, null, "largest_lr_that_trains", trained.Count > 0 ? trained.Max() : double.NaN, seed);
            }
    }

    private static void TrainOne(ExperimentContext c, ResultsTable results, (string Series, bool BatchNorm, string Activation) net, double lr,
        int steps, int batch, ulong seed, Action<double> advance)
    {
        var model = Architectures.Mlp(net.BatchNorm, new Rng(seed), relu: net.Activation == "relu");
        var trainer = new Trainer(model, new Sgd(model.NamedParameters(), lr), new DataLoader(c.Data.Train, batch, seed));
        trainer.StepCompleted = r => { if (r.Step % 100 == 0) advance(r.Step); };
        try
        {
            trainer.Run(steps);
            var result = Trainer.Evaluate(model, new DataLoader(c.Data.Test, 1000, shuffle: false));
            // outputs that are NaN or infinite score 0%: the run has diverged, though its loss stayed finite
            if (result.OutputsFinite) results.Add("sweep", net.Series, lr, "test_accuracy", result.Accuracy, seed);
            else results.Add("sweep", net.Series, lr, "diverged_at_step", steps, seed);
        }
        catch (TrainingDivergedException e)
        {
            results.Add("sweep", net.Series, lr, "diverged_at_step", e.Step, seed);
        }
    }

    public override string Report(ResultsTable r, string dir, ReportWriter w, ExperimentMode mode)
    {
        double steps = r.Get("settings", "run", "steps"), threshold = r.Get("settings", "run", "threshold");
        double[] rates = r.Series("settings", "grid", "learning_rates").Y;
        var seeds = r.Seeds();
        static string Label(string s) => s.Replace("_bn", " + BN").Replace("relu", "ReLU");
        string figure = SweepFigure(r, dir, rates, seeds, steps, threshold);
        string Cell(string series, double lr)
        {
            var acc = Stats.Estimate(r.PerSeed("sweep", series, "test_accuracy", lr));
            int diverged = r.PerSeed("sweep", series, "diverged_at_step", lr).Count(double.IsFinite);
            return (acc.N > 0 ? acc.MeanSd(Pct) : "") + (diverged > 0 ? $" ({diverged}/{seeds.Length} diverged)" : "");
        }
        Estimate Largest(string s) => Stats.Estimate(r.PerSeed("summary", s, "largest_lr_that_trains").Select(Math.Log10));
        string Rate(string s) => Largest(s).N == 0 ? "none of the rates" : $"10^({Largest(s).MeanSd(v => N(v, 2))})";
        w.Heading("Setting");
        w.Paragraph($"784-100-100-100-10 networks with sigmoid or ReLU hidden units, with and without BN, PyTorch's default initialization, " +
            $"plain SGD with batches of {r.Get("settings", "run", "batch_size"):0} for {steps:0} steps at each of {rates.Length} learning rates " +
            $"({G(rates.Min())} to {G(rates.Max())}, four a decade), from the same seed with and without BN. A run *trains* at a rate when its test " +
            $"accuracy (eval mode) reaches {Pct(threshold)} (chance is 10%); a run has diverged when its loss becomes NaN or infinite (training " +
            "stops) or its test outputs are not finite; diverged runs are drawn as markers, not as an accuracy. " +
            "Per seed, the largest rate at which the run trains; the effect is log10(largest rate with BN / largest without BN) of the same seed, " +
            "claimed > 0. Every seed gives its own largest rate, so no single run near the threshold decides the verdict.");
        w.Heading("Results");
        w.Image(figure, "test accuracy vs learning rate");
        w.Table(["learning rate", .. Nets.Select(n => Label(n.Series))], rates.Select(lr => new[] { G(lr) }.Concat(Nets.Select(n => Cell(n.Series, lr))).ToArray()));
        w.Table(["network", "largest rate that trains, per seed", "log10 mean ± sd"], Nets.Select(n => new[]
            { Label(n.Series), string.Join(", ", r.PerSeed("summary", n.Series, "largest_lr_that_trains").Select(v => double.IsNaN(v) ? "none" : G(v))), Rate(n.Series) }));
        Estimate Ratio(string act) => Stats.Estimate(r.PerSeed("summary", $"{act}_bn", "largest_lr_that_trains")
            .Zip(r.PerSeed("summary", act, "largest_lr_that_trains"), (a, b) => Math.Log10(a / b)));
        var sig = Ratio("sigmoid");
        var relu = Ratio("relu");
        string Factor(Estimate e) => e.HasInterval ? $"{G(Math.Pow(10, e.Mean))}x [95% CI {G(Math.Pow(10, e.Low))}x, {G(Math.Pow(10, e.High))}x]"
            : e.N == 1 ? $"{G(Math.Pow(10, e.Mean))}x" : "n/a";
        bool censored = Nets.Where(n => n.BatchNorm).Any(n => r.PerSeed("summary", n.Series, "largest_lr_that_trains").Any(v => v == rates.Max()));
        var outcome = Verdict.All(Verdict.Of(sig, Direction.Positive), Verdict.Of(relu, Direction.Positive));
        string verdict = Verdict.Lead(outcome, mode == ExperimentMode.Smoke) +
            $": with BN the largest learning rate that still trains was {Factor(sig)} that without BN for sigmoid units and {Factor(relu)} for ReLU units " +
            $"(geometric mean over {Seeds(seeds.Length)} of the per-seed ratio)" +
            (censored ? $"; BN still trained at the largest rate tried ({G(rates.Max())}) in some seeds, so its factor is a lower bound." : ".");
        w.Heading("Conclusion");
        w.Paragraph(verdict);
        return verdict;
    }

    private static string SweepFigure(ResultsTable r, string dir, double[] rates, ulong[] seeds, double steps, double threshold)
    {
        var plot = Charts.New($"Test accuracy after {steps:0} steps vs learning rate", "learning rate (log scale)", "test accuracy (fraction correct)");
        double[] x = rates.Select(Math.Log10).ToArray();
        int k = 0;
        foreach (var (series, _, _) in Nets)
        {
            var runs = seeds.Select(s => rates.Select(lr => r.TryGet("sweep", series, "test_accuracy", out double a, lr, s) ? a : double.NaN).ToArray()).ToList();
            Charts.Band(plot, x, runs, series.Replace("_bn", " + BN").Replace("relu", "ReLU"), k);
            var diverged = rates.Where(lr => r.PerSeed("sweep", series, "diverged_at_step", lr).Any(double.IsFinite)).Select(Math.Log10).ToArray();
            Charts.DivergedMarkers(plot, diverged, -0.03 - 0.025 * k, $"{series.Replace("_bn", " + BN").Replace("relu", "ReLU")}: diverged (at least one seed)", k);
            k++;
        }
        Charts.Reference(plot, threshold, $"threshold: trains if test accuracy >= {Pct(threshold)}");
        Charts.LogX(plot);
        // the strip below zero holds the diverged markers: no accuracy tick labels there
        double[] ticks = Enumerable.Range(0, 11).Select(i => i / 10.0).ToArray();
        plot.Axes.Left.SetTicks(ticks, ticks.Select(t => G(t)).ToArray());
        plot.Axes.SetLimitsY(-0.14, 1.0);
        return Charts.Save(plot, dir, "sweep");
    }
}
