using NormNet.Cli.Output;
using NormNet.Cli.Science;
using NormNet.Data;
using NormNet.Optim;
using NormNet.Training;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>Seed section 3 / paper Figure 1(a): the paper's MNIST network trains faster and better with BN. The paper
/// states neither the initial weights' std ("small random Gaussian values") nor the learning rate, so the experiment
/// runs a grid over both and reports every cell.</summary>
internal sealed class Fig1Experiment : Experiment
{
    /// <summary>The speed target: this fraction of the baseline's final accuracy (same seed, same cell).</summary>
    public const double TargetFraction = 0.95;
    private static readonly double[] InitStds = [0.05, 0.1], Rates = [0.1, 0.5];

    public override string Name => "fig1";
    public override IReadOnlyList<string> Aliases => ["mnist"];
    public override string Title => "BN makes the paper's MNIST network train faster (paper Figure 1a)";
    public override string Claim =>
        "Seed section 3 (the BN transform): inserting BN between each layer and its nonlinearity lets a network " +
        "of three fully-connected layers of 100 sigmoid units reach a higher test accuracy in fewer steps.";

    /// <summary>The label of a grid cell in results.csv.</summary>
    public static string Cell(double std, double lr) => $"s{G(std)}_lr{G(lr)}";

    public override void Run(ExperimentContext c)
    {
        int steps = c.Protocol.StepsOr(c.Pick(50_000, 2_000, 60)), every = Math.Max(1, steps / c.Pick(100, 20, 3));
        int batch = c.Protocol.BatchSizeOr(PaperMlp.BatchSize, Name);
        double[] stds = c.Protocol.InitStd ?? InitStds, rates = c.Protocol.Lr ?? Rates;
        c.Setting("steps", steps);
        c.Setting("batch_size", batch);
        c.Setting("eval_every", every);
        c.Setting("init_stds", stds);
        c.Setting("learning_rates", rates);
        var cells = stds.SelectMany(s => rates.Select(lr => (Std: s, Lr: lr))).ToArray();
        var runs = (from cell in cells
                    from seed in c.Seeds
                    from bn in new[] { false, true }
                    select new ConcurrentRun(steps, (results, advance) =>
                        TrainOne(c, results, $"{(bn ? "bn" : "baseline")}_{Cell(cell.Std, cell.Lr)}", bn, cell.Std, cell.Lr, batch, steps, every, seed, advance))).ToList();
        ConcurrentRuns.Execute(c.Progress, c.Results, $"fig1: {cells.Length} cells x 2 nets x {c.Seeds.Count} seeds", runs);
        foreach (var (std, lr) in cells)
            foreach (ulong seed in c.Seeds)
                Summarize(c.Results, Cell(std, lr), seed);
    }

    private static void TrainOne(ExperimentContext c, ResultsTable results, string series, bool bn, double std, double lr, int batch, int steps, int every, ulong seed, Action<double> advance)
    {
        var model = PaperMlp.Build(bn, seed, std);
        var test = new DataLoader(c.Data.Test, 1000, shuffle: false);
        var trainer = new Trainer(model, new Sgd(model.NamedParameters(), lr), new DataLoader(c.Data.Train, batch, seed));
        double lossSum = 0;
        trainer.StepCompleted = r =>
        {
            lossSum += r.Loss;
            if (r.Step % 50 == 0) advance(r.Step);
        };
        trainer.Evaluated = r =>
        {
            results.Add("curve", series, r.Step, "test_accuracy", r.Accuracy, seed);
            results.Add("curve", series, r.Step, "train_loss", lossSum / every, seed);
            lossSum = 0;
        };
        try
        {
            trainer.Run(steps, test, every);
        }
        catch (TrainingDivergedException e)
        {
            results.Add("summary", series, null, "diverged_at_step", e.Step, seed);
        }
    }

    /// <summary>Per seed: each net's final accuracy (the mean of the last 10% of evaluations: single evaluations jitter
    /// by about a point) and the first evaluation at which it reaches 95% of the baseline's final accuracy.</summary>
    private static void Summarize(ResultsTable r, string cell, ulong seed)
    {
        foreach (var net in new[] { "baseline", "bn" })
        {
            var y = r.Series("curve", $"{net}_{cell}", "test_accuracy", seed).Y;
            double final = y.Length == 0 ? double.NaN : y.Skip(y.Length - Math.Max(1, y.Length / 10)).Average();
            r.Add("summary", $"{net}_{cell}", null, "final_accuracy", final, seed);
        }
        double target = TargetFraction * r.Get("summary", $"baseline_{cell}", "final_accuracy", seed: seed);
        foreach (var net in new[] { "baseline", "bn" })
        {
            var (x, y) = r.Series("curve", $"{net}_{cell}", "test_accuracy", seed);
            int hit = Array.FindIndex(y, v => v >= target);
            r.Add("summary", $"{net}_{cell}", null, "steps_to_target", hit < 0 ? double.NaN : x[hit], seed);
        }
    }

    public override string Report(ResultsTable r, string dir, ReportWriter w, ExperimentMode mode) => new Fig1Report(r, dir, w, mode).Write();
}
