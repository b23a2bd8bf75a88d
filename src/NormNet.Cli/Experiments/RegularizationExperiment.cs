using NormNet.Cli.Output;
using NormNet.Data;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Optim;
using NormNet.Training;
using static NormNet.Cli.Output.ReportWriter;

namespace NormNet.Cli.Experiments;

/// <summary>Seed section 4: the noise of mini-batch statistics regularizes, and more so for smaller batches.</summary>
internal sealed class RegularizationExperiment : Experiment
{
    private static readonly int[] Batches = [8, 32, 128, 512];
    private static readonly int[] NoiseBatches = [2, 4, 8, 16, 32, 64, 128, 256, 512];
    private const double BaseLr = 0.5, BaseBatch = 32;

    public override string Name => "regularization";
    public override string Title => "BN's mini-batch noise acts as a regularizer, more so for small batches (seed section 4)";
    public override string Claim =>
        "Seed section 4: each example is normalized with the mean and variance of its mini-batch, which adds noise to " +
        "every layer's activations; like dropout this regularizes, and a smaller mini-batch gives more noise.";

    public override void Run(ExperimentContext c)
    {
        // a training set small enough, and training long enough, that the nets overfit: that is where a regularizer shows
        int epochs = c.Pick(20, 30, 1), draws = c.Pick(400, 200, 20);
        var trainSet = Subset(c.Data.Train, c.Pick(c.Data.Train.Count, 10_000, 1_000));
        c.Setting("epochs", epochs);
        c.Setting("train_images", trainSet.Count);
        c.Setting("base_lr", BaseLr);
        c.Setting("base_batch", BaseBatch);
        c.Setting("draws", draws);
        var trainEval = new DataLoader(trainSet, 1000, shuffle: false);
        var testEval = new DataLoader(c.Data.Test, 1000, shuffle: false);
        double work = Batches.Sum(b => 2.0 * epochs * trainSet.Count / b);
        Sequential? noiseModel = null;
        c.Progress.Run("regularization: 4 batch sizes, with and without BN", work, advance =>
        {
            double done = 0;
            foreach (int batch in Batches)
                foreach (bool bn in new[] { true, false })
                {
                    string series = bn ? "bn" : "baseline";
                    var model = PaperMlp.Build(bn, c.Seed);
                    var loader = new DataLoader(trainSet, batch, c.Seed, dropLast: true);
                    double lr = BaseLr * batch / BaseBatch; // linear scaling: the same progress per epoch at every batch size
                    var trainer = new Trainer(model, new Sgd(model.NamedParameters(), lr), loader);
                    try
                    {
                        trainer.Run((long)epochs * loader.BatchesPerEpoch);
                        double train = Trainer.Evaluate(model, trainEval).Accuracy, test = Trainer.Evaluate(model, testEval).Accuracy;
                        c.Results.Add("training", series, batch, "train_accuracy", train);
                        c.Results.Add("training", series, batch, "test_accuracy", test);
                        c.Results.Add("training", series, batch, "gap", train - test);
                    }
                    catch (TrainingDivergedException)
                    {
                        c.Results.Add("training", series, batch, "diverged", 1);
                    }
                    c.Results.Add("training", series, batch, "learning_rate", lr);
                    if (bn && batch == 32) noiseModel = model;
                    done += (double)epochs * trainSet.Count / batch;
                    advance(done);
                }
        });
        MeasureNoise(c, trainSet, noiseModel!, draws);
    }

    private static ImageSet Subset(ImageSet set, int count) => count >= set.Count ? set
        : set.Subset(Enumerable.Range(0, count).ToArray(), "training subset");

    /// <summary>The spread of mini-batch means and variances of the first BN layer's input around their population values.</summary>
    private static void MeasureNoise(ExperimentContext c, ImageSet trainSet, Sequential model, int draws)
    {
        var linear = (Linear)model[0];
        var all = new DataLoader(trainSet, trainSet.Count, shuffle: false).Next().Inputs;
        var z = linear.Forward(all); // (N, 100): the input of the first BN layer
        int n = z.Dim(0), units = z.Dim(1);
        var zs = z.ReadOnlySpan;
        double[] mu = new double[units], var = new double[units];
        for (int u = 0; u < units; u++)
        {
            double s = 0, q = 0;
            for (int i = 0; i < n; i++) s += zs[i * units + u];
            mu[u] = s / n;
            for (int i = 0; i < n; i++) q += Math.Pow(zs[i * units + u] - mu[u], 2);
            var[u] = q / n;
        }
        var rng = new Rng(c.Seed + 17);
        foreach (int m in NoiseBatches.Where(m => m <= n))
        {
            double meanSpread = 0, varSpread = 0;
            var index = new int[m];
            var sumD = new double[units];
            var sumV = new double[units];
            for (int d = 0; d < draws; d++)
            {
                for (int k = 0; k < m; k++) index[k] = rng.NextInt(n);
                for (int u = 0; u < units; u++)
                {
                    double s = 0, q = 0;
                    for (int k = 0; k < m; k++) s += zs[index[k] * units + u];
                    double bm = s / m;
                    for (int k = 0; k < m; k++) q += Math.Pow(zs[index[k] * units + u] - bm, 2);
                    double bv = q / m;
                    sumD[u] += Math.Pow((bm - mu[u]) / Math.Sqrt(var[u]), 2);
                    sumV[u] += Math.Pow((bv - var[u]) / var[u], 2);
                }
            }
            for (int u = 0; u < units; u++)
            {
                meanSpread += Math.Sqrt(sumD[u] / draws);
                varSpread += Math.Sqrt(sumV[u] / draws);
            }
            c.Results.Add("noise", "batch_mean", m, "relative_spread", meanSpread / units);
            c.Results.Add("noise", "batch_variance", m, "relative_spread", varSpread / units);
        }
        foreach (var series in new[] { "batch_mean", "batch_variance" })
        {
            var (x, y) = c.Results.Series("noise", series, "relative_spread");
            c.Results.Add("noise_fit", series, null, "log_log_slope", Slope(x.Select(v => Math.Log(v)).ToArray(), y.Select(v => Math.Log(v)).ToArray()));
        }
    }

    private static double Slope(double[] x, double[] y)
    {
        double mx = x.Average(), my = y.Average();
        return x.Zip(y).Sum(p => (p.First - mx) * (p.Second - my)) / x.Sum(v => (v - mx) * (v - mx));
    }

    public override string Report(ResultsTable r, string dir, ReportWriter w)
    {
        double epochs = r.Get("settings", "run", "epochs");
        var gapPlot = Charts.New("Generalization gap vs mini-batch size", "mini-batch size (log scale)", "train accuracy - test accuracy");
        foreach (var (series, label, color) in new[] { ("bn", "with BN", 0), ("baseline", "without BN", 1) })
        {
            var (x, y) = r.Series("training", series, "gap");
            Charts.Line(gapPlot, x.Select(Math.Log10).ToArray(), y, label, color, markers: true);
        }
        Charts.LogX(gapPlot);
        string gap = Charts.Save(gapPlot, dir, "gap", ScottPlot.Alignment.UpperLeft);
        var noisePlot = Charts.New("Noise of mini-batch statistics vs batch size", "mini-batch size m (log scale)", "relative spread around the population value (log scale)");
        int k = 0;
        foreach (var (series, label) in new[] { ("batch_mean", "batch mean: std of (mean_B - mean) / std"), ("batch_variance", "batch variance: std of (var_B - var) / var") })
        {
            var (x, y) = r.Series("noise", series, "relative_spread");
            Charts.Line(noisePlot, x.Select(Math.Log10).ToArray(), y.Select(Math.Log10).ToArray(), label, k++, markers: true);
        }
        var (mx, _) = r.Series("noise", "batch_mean", "relative_spread");
        Charts.Line(noisePlot, mx.Select(Math.Log10).ToArray(), mx.Select(m => Math.Log10(1 / Math.Sqrt(m))).ToArray(), "1 / sqrt(m)", 7);
        Charts.LogX(noisePlot);
        Charts.LogY(noisePlot);
        string noise = Charts.Save(noisePlot, dir, "noise", ScottPlot.Alignment.UpperRight);

        bool Diverged(string series, int batch) => r.Rows.Any(x => x.Section == "training" && x.Series == series && x.X == batch && x.Metric == "diverged");
        string Cell(string series, int batch, string metric) => Diverged(series, batch) ? "diverged" : Pct(r.Get("training", series, metric, batch));
        w.Heading("Setting");
        w.Paragraph($"The paper's 784-100-100-100-10 sigmoid network trained on {r.Get("settings", "run", "train_images"):0} training images for {epochs:0} epochs " +
            $"(long enough to overfit) at mini-batch sizes {string.Join(", ", Batches)}, " +
            $"with BN and without; plain SGD with the learning rate scaled with the batch size ({G(r.Get("settings", "run", "base_lr"))} at batch " +
            $"{r.Get("settings", "run", "base_batch"):0}), so every run makes similar progress per epoch. Accuracies in eval mode on those training images and on the whole test set.");
        w.Heading("Results: generalization gap");
        w.Table(["batch", "learning rate", "BN train", "BN test", "BN gap", "no-BN train", "no-BN test", "no-BN gap"],
            Batches.Select(b => new[] { $"{b}", G(r.Get("training", "bn", "learning_rate", b)), Cell("bn", b, "train_accuracy"), Cell("bn", b, "test_accuracy"),
                Cell("bn", b, "gap"), Cell("baseline", b, "train_accuracy"), Cell("baseline", b, "test_accuracy"), Cell("baseline", b, "gap") }));
        w.Image(gap, "generalization gap vs batch size");
        w.Heading("Results: the noise itself");
        w.Paragraph($"Inputs of the first BN layer of the network trained with BN at batch 32, over its training images: for each of its 100 units, " +
            $"{r.Get("settings", "run", "draws"):0} random mini-batches per size m; the spread of the batch mean (in units of the population std) " +
            "and of the biased batch variance (relative to the population variance), averaged over units. Theory: the mean's spread is 1/sqrt(m).");
        w.Image(noise, "noise of batch statistics vs batch size");
        double slopeMean = r.Get("noise_fit", "batch_mean", "log_log_slope"), slopeVar = r.Get("noise_fit", "batch_variance", "log_log_slope");
        w.Table(["m", "spread of batch mean", "1/sqrt(m)", "spread of batch variance"],
            mx.Select(m => new[] { $"{m:0}", N(r.Get("noise", "batch_mean", "relative_spread", m)), N(1 / Math.Sqrt(m)), N(r.Get("noise", "batch_variance", "relative_spread", m)) }));
        w.Paragraph($"Log-log slopes: {N(slopeMean)} for the batch mean and {N(slopeVar)} for the batch variance (the 1/sqrt(m) law is -0.5).");
        // a gap only says something about regularization between runs that fit the training set about as well:
        // compare the noisiest batch with the larger batches whose BN net reached at least its training accuracy
        int small = Batches[0];
        double gapSmall = Diverged("bn", small) ? double.NaN : r.Get("training", "bn", "gap", small);
        double fitSmall = Diverged("bn", small) ? double.NaN : r.Get("training", "bn", "train_accuracy", small);
        var comparable = Batches.Skip(1).Where(b => !Diverged("bn", b) && r.Get("training", "bn", "train_accuracy", b) >= fitSmall).ToList();
        bool law = slopeMean is > -0.6 and < -0.4;
        bool regularizes = comparable.Count > 0 && comparable.All(b => gapSmall < r.Get("training", "bn", "gap", b));
        string others = comparable.Count == 0 ? "no larger batch fitted the training set as well, so the gaps are not comparable"
            : $"{string.Join(", ", comparable.Select(b => $"{Pct(r.Get("training", "bn", "gap", b))} at batch {b}"))} (the larger batches that fitted the training set at least as well)";
        string verdict = (law && regularizes ? "Held" : law ? "Partly held" : "Not shown in this run") +
            $": the noise of the batch mean falls as m^{N(slopeMean, 2)} (1/sqrt(m) predicts m^-0.5), so a batch of {small} is " +
            $"{N(r.Get("noise", "batch_mean", "relative_spread", small) / r.Get("noise", "batch_mean", "relative_spread", Batches[^1]), 1)}x noisier than one of {Batches[^1]}; " +
            $"with BN the generalization gap is {Pct(gapSmall)} at batch {small} against {others}" +
            (regularizes ? ": the noisiest batches regularized most." : ".");
        w.Heading("Conclusion");
        w.Paragraph(verdict);
        return verdict;
    }
}
