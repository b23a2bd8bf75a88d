using NormNet.Cli.Experiments;
using NormNet.Cli.Output;

namespace NormNet.Tests.Cli;

/// <summary>The small-batch experiment: its smoke run covers every batch size and normalization with the stated
/// learning-rate rule and writes its figures and report; its failure rule decides from paired differences.</summary>
[Collection("Console")]
public sealed class SmallBatchExperimentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-sb-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SmokeRun_TrainsEveryNormAtEveryBatch_WithLinearLr_AndWritesFigures()
    {
        var r = CliTests.Run("experiment", "small-batch", "--smoke", "--out", _dir, "--seed", "3");
        Assert.True(r.Code == 0, r.Error);
        var results = ResultsTable.Load(Path.Combine(_dir, "results.csv"));
        Assert.Equal([2.0, 4, 8, 16, 32, 128], results.Series("settings", "grid", "batch_sizes").Y);
        double baseLr = results.Get("settings", "run", "base_lr"), baseBatch = results.Get("settings", "run", "base_batch");
        foreach (string norm in SmallBatchExperiment.Norms)
            foreach (int batch in SmallBatchExperiment.Batches)
            {
                Assert.Equal(baseLr * batch / baseBatch, results.Get("training", norm, "learning_rate", batch, 3), 12);
                bool measured = results.TryGet("training", norm, "test_accuracy", out double acc, batch, 3);
                bool diverged = results.TryGet("training", norm, "diverged", out _, batch, 3);
                Assert.True(measured ^ diverged, $"{norm} at batch {batch}: expected an accuracy or a divergence");
                if (measured) Assert.InRange(acc, 0, 1);
            }
        string report = File.ReadAllText(Path.Combine(_dir, "report.md"));
        Assert.Contains("## Where each normalization starts to fail", report);
        Assert.Contains("Rule: a normalization *fails*", report);
        Assert.Contains("](accuracy.png)", report);
        Assert.Contains("](drop.png)", report);
        Assert.Contains("| epochs |", report);
        Assert.True(File.Exists(Path.Combine(_dir, "report.html")));
    }

    [Fact]
    public void SameSeed_GivesTheSameResults_AtAnyThreadCount()
    {
        string a = Path.Combine(_dir, "a"), b = Path.Combine(_dir, "b");
        Assert.Equal(0, CliTests.Run("experiment", "small-batch", "--smoke", "--batch-size", "4,16", "--out", a, "--seed", "2").Code);
        Assert.Equal(0, CliTests.Run("experiment", "small-batch", "--smoke", "--batch-size", "4,16", "--out", b, "--seed", "2", "--threads", "1").Code);
        Assert.Equal(File.ReadAllText(Path.Combine(a, "results.csv")), File.ReadAllText(Path.Combine(b, "results.csv")));
    }

    /// <summary>Synthetic results: BN loses 20 points at batch 2 and 4 (with seed noise), nothing at 8; GroupNorm is flat.</summary>
    [Fact]
    public void FailureRule_FindsTheLargestBatchWhoseDropExcludesZero()
    {
        var t = new ResultsTable();
        t.Add("settings", "run", null, "base_batch", 32);
        t.Add("settings", "run", null, "virtual_batch", 16);
        double[] batches = [2, 4, 8, 32, 128];
        for (int i = 0; i < batches.Length; i++) t.Add("settings", "grid", i, "batch_sizes", batches[i]);
        double[] noise = [0.01, -0.01, 0.005];
        for (ulong seed = 1; seed <= 3; seed++)
            foreach (double b in batches)
            {
                double n = noise[seed - 1];
                t.Add("training", "batch", b, "test_accuracy", (b <= 4 ? 0.6 : 0.8) + n, seed);
                // GroupNorm: at batch 8 one seed up, one down: an interval around zero
                t.Add("training", "group", b, "test_accuracy", 0.75 + (b == 8 ? 3 * n : 0), seed);
                if (b == 2 && seed <= 2) t.Add("training", "layer", b, "diverged", 1, seed);
                else t.Add("training", "layer", b, "test_accuracy", 0.7, seed);
            }
        var report = new SmallBatchReport(t, _dir, new ReportWriter(), ExperimentMode.Quick);
        Assert.True(report.Fails("batch", 2));
        Assert.True(report.Fails("batch", 4));
        Assert.False(report.Fails("batch", 8));
        Assert.False(report.Fails("batch", 128)); // above the reference batch (32) the rule does not apply
        Assert.Equal(4, report.FailsFrom("batch"));
        Assert.True(double.IsNaN(report.FailsFrom("group")));
        Assert.Equal(2, report.FailsFrom("layer")); // most seeds diverged there
    }
}
