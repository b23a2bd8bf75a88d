using NormNet.Cli.Output;
using NormNet.Data;
using NormNet.Models;
using NormNet.Optim;
using NormNet.Training;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>Seed section 3 / paper Figure 1(a): the paper's MNIST network trains faster and better with BN.</summary>
internal sealed class MnistExperiment : Experiment
{
    private static readonly double[] TargetFractions = [0.9, 0.95, 0.98];

    public override string Name => "mnist";
    public override string Title => "BN makes the paper's MNIST network train faster (paper Figure 1a)";
    public override string Claim =>
        "Seed section 3 (the BN transform): inserting BN between each layer and its nonlinearity lets a network " +
        "of three fully-connected layers of 100 sigmoid units reach a higher test accuracy in fewer steps.";

    public override void Run(ExperimentContext c)
    {
        int steps = c.Pick(50_000, 4_000, 60), every = c.Pick(500, 200, 20);
        const int batch = PaperMlp.BatchSize;
        const double lr = PaperMlp.LearningRate, initStd = PaperMlp.InitStd;
        c.Setting("steps", steps);
        c.Setting("batch_size", batch);
        c.Setting("eval_every", every);
        c.Setting("learning_rate", lr);
        c.Setting("init_std", initStd);
        var test = new DataLoader(c.Data.Test, 1000, shuffle: false);
        c.Progress.Run("mnist: baseline and BN nets", 2.0 * steps, advance =>
        {
            foreach (bool bn in new[] { false, true })
            {
                string series = bn ? "bn" : "baseline";
                var model = PaperMlp.Build(bn, c.Seed);
                var trainer = new Trainer(model, new Sgd(model.NamedParameters(), lr), new DataLoader(c.Data.Train, batch, c.Seed));
                double lossSum = 0;
                trainer.StepCompleted = r => lossSum += r.Loss;
                trainer.Evaluated = r =>
                {
                    c.Results.Add("curve", series, r.Step, "test_accuracy", r.Accuracy);
                    c.Results.Add("curve", series, r.Step, "train_loss", lossSum / every);
                    lossSum = 0;
                    advance((bn ? steps : 0) + r.Step);
                };
                trainer.Run(steps, test, every);
            }
        });
        // single evaluations jitter by about a point late in training: the final accuracy is the mean of the last 10%
        foreach (var series in new[] { "baseline", "bn" })
        {
            var y = c.Results.Series("curve", series, "test_accuracy").Y;
            c.Results.Add("summary", series, null, "final_accuracy", y.Skip(y.Length - Math.Max(1, y.Length / 10)).Average());
        }
        // speed: the first evaluation at 90%, 95% and 98% of the baseline's final accuracy (the plateau itself is within the jitter)
        double final = c.Results.Get("summary", "baseline", "final_accuracy");
        foreach (double fraction in TargetFractions)
            foreach (var series in new[] { "baseline", "bn" })
            {
                var (x, y) = c.Results.Series("curve", series, "test_accuracy");
                int hit = Array.FindIndex(y, v => v >= fraction * final);
                c.Results.Add("speed", series, fraction, "first_step_at_fraction_of_baseline_final", hit < 0 ? double.NaN : x[hit]);
            }
    }

    public override string Report(ResultsTable r, string dir, ReportWriter w)
    {
        double steps = r.Get("settings", "run", "steps"), every = r.Get("settings", "run", "eval_every");
        double baseline = r.Get("summary", "baseline", "final_accuracy"), bn = r.Get("summary", "bn", "final_accuracy");
        double Steps(string series, double fraction) => r.Get("speed", series, "first_step_at_fraction_of_baseline_final", fraction);
        double reach = Steps("bn", 0.95), baseReach = Steps("baseline", 0.95), target = 0.95 * baseline;
        var plot = Charts.New("Test accuracy during training (paper Figure 1a)", "training step (mini-batches of 60)", "test accuracy (fraction correct)");
        var (bx, by) = r.Series("curve", "baseline", "test_accuracy");
        var (nx, ny) = r.Series("curve", "bn", "test_accuracy");
        Charts.Line(plot, bx, by, "without BN", 1);
        Charts.Line(plot, nx, ny, "with BN", 0);
        Charts.Reference(plot, target);
        if (!double.IsNaN(reach)) Charts.ReferenceX(plot, reach);
        string accuracy = Charts.Save(plot, dir, "accuracy");
        var lossPlot = Charts.New("Training loss (mean over each evaluation interval)", "training step", "cross-entropy (nats)");
        Charts.Line(lossPlot, bx, r.Series("curve", "baseline", "train_loss").Y, "without BN", 1);
        Charts.Line(lossPlot, nx, r.Series("curve", "bn", "train_loss").Y, "with BN", 0);
        string loss = Charts.Save(lossPlot, dir, "loss", ScottPlot.Alignment.UpperRight);

        w.Heading("Setting");
        w.Paragraph($"784-100-100-100-10 network, sigmoid hidden units, weights drawn from N(0, {G(r.Get("settings", "run", "init_std"))}), " +
            $"plain SGD with learning rate {G(r.Get("settings", "run", "learning_rate"))}, mini-batches of {r.Get("settings", "run", "batch_size"):0}, " +
            $"{steps:0} steps per network; the BN network adds BatchNorm1d between each hidden Linear and its sigmoid. " +
            $"Test accuracy in eval mode (running statistics) every {every:0} steps.");
        w.Heading("Results");
        w.Image(accuracy, "test accuracy vs training step, with and without BN");
        w.Table(["network", "final test accuracy (mean of the last 10% of evaluations)", $"accuracy at step {every:0}"],
        [
            ["without BN", Pct(baseline), Pct(by.Length > 0 ? by[0] : double.NaN)],
            ["with BN", Pct(bn), Pct(ny.Length > 0 ? ny[0] : double.NaN)],
        ]);
        string StepText(double v) => double.IsNaN(v) ? "never" : $"{v:0}";
        w.Paragraph("Training speed: the first evaluation at which each network reaches a fraction of the baseline's final accuracy.");
        w.Table(["target", "steps without BN", "steps with BN", "fewer steps with BN"], TargetFractions.Select(f => new[]
        {
            $"{Pct(f * baseline)} ({f * 100:0}% of the baseline's final)", StepText(Steps("baseline", f)), StepText(Steps("bn", f)),
            double.IsNaN(Steps("bn", f)) || double.IsNaN(Steps("baseline", f)) ? "n/a" : $"{Steps("baseline", f) / Steps("bn", f):0.#}x",
        }));
        w.Image(loss, "training loss vs step");
        bool faster = !double.IsNaN(reach) && (double.IsNaN(baseReach) || reach * 1.5 <= baseReach);
        bool notWorse = bn >= baseline - 0.005;
        string speed = double.IsNaN(reach)
            ? $"the BN network never reached {Pct(target)} (95% of the baseline's final accuracy)"
            : $"the BN network first reached {Pct(target)} (95% of the baseline's final accuracy) at step {reach:0}, the baseline at step " +
              (double.IsNaN(baseReach) ? "(never)" : $"{baseReach:0} ({baseReach / reach:0.#}x more steps)");
        string verdict = (faster && bn > baseline + 0.005 ? "Held" : faster && notWorse ? "Held for speed, not for final accuracy" : faster ? "Partly held" : "Not shown in this run") +
            $": {speed}; final accuracies (mean of the last 10% of evaluations) {Pct(bn)} with BN and {Pct(baseline)} without" +
            (faster && notWorse && bn <= baseline + 0.005 ? ", the same within the evaluations' jitter." : ".");
        w.Heading("Conclusion");
        w.Paragraph(verdict);
        return verdict;
    }
}
