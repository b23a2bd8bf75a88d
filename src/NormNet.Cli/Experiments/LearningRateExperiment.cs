using NormNet.Cli.Output;
using NormNet.Data;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Optim;
using NormNet.Training;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>Beyond the seed (paper section 4.2.1, BN-x5 and BN-x30): BN lets a network train at much higher learning rates.</summary>
internal sealed class LearningRateExperiment : Experiment
{
    private static readonly double[] Rates = [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300];
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
        int steps = c.Pick(3_000, 500, 20);
        c.Setting("steps", steps);
        c.Setting("batch_size", 60);
        c.Setting("threshold", TrainsAbove);
        var test = new DataLoader(c.Data.Test, 1000, shuffle: false);
        c.Progress.Run("learning-rate: 4 nets x 10 learning rates", Nets.Length * Rates.Length, advance =>
        {
            int done = 0;
            foreach (var (series, bn, activation) in Nets)
                foreach (double lr in Rates)
                {
                    var model = Architectures.Mlp(bn, new Rng(c.Seed), relu: activation == "relu");
                    var trainer = new Trainer(model, new Sgd(model.NamedParameters(), lr), new DataLoader(c.Data.Train, 60, c.Seed));
                    try
                    {
                        trainer.Run(steps);
                        c.Results.Add("sweep", series, lr, "test_accuracy", Trainer.Evaluate(model, test).Accuracy);
                    }
                    catch (TrainingDivergedException e)
                    {
                        c.Results.Add("sweep", series, lr, "diverged_at_step", e.Step);
                    }
                    advance(++done);
                }
        });
        foreach (var (series, _, _) in Nets)
        {
            var trained = Rates.Where(lr => c.Results.Rows.Any(x => x.Section == "sweep" && x.Series == series && x.X == lr &&
                                                                  x.Metric == "test_accuracy" && x.Value >= TrainsAbove)).ToList();
            c.Results.Add("summary", series, null, "largest_lr_that_trains", trained.Count > 0 ? trained.Max() : double.NaN);
        }
    }

    public override string Report(ResultsTable r, string dir, ReportWriter w)
    {
        double steps = r.Get("settings", "run", "steps");
        string Label(string s) => s.Replace("_bn", " + BN").Replace("sigmoid", "sigmoid").Replace("relu", "ReLU");
        var plot = Charts.New($"Test accuracy after {steps:0} steps vs learning rate", "learning rate (log scale)", "test accuracy (fraction correct; 0 = diverged)");
        int k = 0;
        foreach (var (series, _, _) in Nets)
        {
            var points = Rates.Select(lr => (lr, acc: r.Rows.FirstOrDefault(x => x.Section == "sweep" && x.Series == series && x.X == lr && x.Metric == "test_accuracy")?.Value ?? 0)).ToArray();
            Charts.Line(plot, points.Select(p => Math.Log10(p.lr)).ToArray(), points.Select(p => p.acc).ToArray(), Label(series), k++, markers: true,
                shape: series.EndsWith("_bn", StringComparison.Ordinal) ? ScottPlot.MarkerShape.FilledCircle : ScottPlot.MarkerShape.OpenSquare);
        }
        Charts.Reference(plot, r.Get("settings", "run", "threshold"));
        Charts.LogX(plot);
        string figure = Charts.Save(plot, dir, "sweep", ScottPlot.Alignment.MiddleRight);
        string Cell(string series, double lr)
        {
            var row = r.Rows.FirstOrDefault(x => x.Section == "sweep" && x.Series == series && x.X == lr);
            return row is null ? "" : row.Metric == "diverged_at_step" ? $"diverged (step {row.Value:0})" : Pct(row.Value);
        }
        w.Heading("Setting");
        w.Paragraph($"784-100-100-100-10 networks with sigmoid or ReLU hidden units, with and without BN, PyTorch's default initialization, " +
            $"plain SGD with batches of {r.Get("settings", "run", "batch_size"):0} for {steps:0} steps at each learning rate. A network still trains at a " +
            $"rate when its test accuracy (eval mode) reaches {Pct(r.Get("settings", "run", "threshold"))}; chance is 10%. " +
            "Training stops when the loss becomes NaN or infinite (diverged).");
        w.Heading("Results");
        w.Image(figure, "test accuracy vs learning rate");
        w.Table(["learning rate", .. Nets.Select(n => Label(n.Series))], Rates.Select(lr => new[] { G(lr) }.Concat(Nets.Select(n => Cell(n.Series, lr))).ToArray()));
        double Largest(string s) => r.Get("summary", s, "largest_lr_that_trains");
        string Rate(string s) => double.IsNaN(Largest(s)) ? "none of the rates" : G(Largest(s));
        w.Table(["network", "largest learning rate that trains"], Nets.Select(n => new[] { Label(n.Series), Rate(n.Series) }));
        double sig = Largest("sigmoid_bn") / Largest("sigmoid"), relu = Largest("relu_bn") / Largest("relu");
        bool held = sig > 1 && relu > 1;
        string verdict = (held ? "Held" : "Not shown in this run") +
            $": the largest learning rate that still trains was {Rate("sigmoid")} without BN and {Rate("sigmoid_bn")} with BN for sigmoid units" +
            (double.IsNaN(sig) ? "" : $" ({G(sig)}x)") + $", and {Rate("relu")} without and {Rate("relu_bn")} with BN for ReLU units" +
            (double.IsNaN(relu) ? "." : $" ({G(relu)}x).");
        w.Heading("Conclusion");
        w.Paragraph(verdict);
        return verdict;
    }
}
