using System.Globalization;

namespace NormNet.Cli.Experiments;

/// <summary>Beyond the seed (issue 13): data-parallel training on 2 ranks with small per-rank batches, per-rank batch
/// norm against synchronized batch norm, both against one process with the whole batch. Every run is a real
/// <c>normnet train</c> child process, the ranks started by mpiexec, so this experiment needs MPICH and is not part of <c>all</c>.</summary>
internal sealed partial class SyncBnExperiment : Experiment
{
    public const int Ranks = 2;
    /// <summary>The three runs of each seed: series name, ranks, --sync-bn.</summary>
    public static readonly (string Series, int Ranks, bool Sync)[] Runs = [("single", 1, false), ("per_rank", Ranks, false), ("sync", Ranks, true)];
    /// <summary>How many first steps the loss trajectories are compared over, step by step.</summary>
    public const int EarlySteps = 100, TrackSteps = 10;

    public override string Name => "sync-bn";
    public override string Title => "Per-rank batch norm vs SyncBatchNorm at small per-rank batches (2 ranks x 4 against 1 x 8)";
    public override string Claim =>
        "Beyond the seed (issue 13; seed section 4 on small batches): split over ranks, each rank's batch norm sees only its shard, so " +
        "2 ranks x 4 samples with per-rank statistics trains like batch norm at batch 4, noisier and worse than one process at batch 8; " +
        "SyncBatchNorm computes the statistics over the global batch, so 2 ranks x 4 with it follows the single process at batch 8 " +
        "(the same run up to float rounding).";

    public override void Run(ExperimentContext c)
    {
        string mpiexec = ChildTraining.FindMpiexec(Environment.GetEnvironmentVariable("PATH"), Name);
        int steps = c.Protocol.StepsOr(c.Pick(1600, 400, 20)), batch = c.Protocol.BatchSizeOr(8, Name);
        double lr = c.Protocol.LrOr(0.05, Name);
        if (batch % Ranks != 0 || batch / Ranks < 2) throw new UsageException($"--batch-size: the {Name} experiment splits it over {Ranks} ranks; give an even size of at least 4, got {batch}.");
        // one evaluation, at the end: training 1 step and evaluating on the 10,000 Fashion-MNIST test images took 3.6 s on 2 cores
        int evalEvery = steps;
        c.Setting("steps", steps);
        c.Setting("batch_size", batch);
        c.Setting("ranks", Ranks);
        c.Setting("learning_rate", lr);
        string[] data = Directory.Exists(c.Data.Source) ? ["--data", c.Data.Source] : [];
        int cores = Environment.ProcessorCount;
        double total = (double)c.Seeds.Count * Runs.Length * steps;
        c.Progress.Run($"sync-bn: cnn, {Runs.Length} runs x {c.Seeds.Count} seeds, {steps} steps each (mpiexec {mpiexec})", total, advance =>
        {
            double done = 0;
            foreach (ulong seed in c.Seeds)
                foreach (var (series, ranks, sync) in Runs)
                {
                    string dir = Path.Combine(c.Dir, "runs", $"{series}-seed{seed}");
                    if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
                    string[] train = [.. ChildTraining.Self(), "train", "--arch", "cnn", "--batch-size", I(batch), "--steps", I(steps),
                        "--lr", lr.ToString("R", CultureInfo.InvariantCulture), "--eval-every", I(evalEvery), "--seed", I(seed), "--out", dir, .. data,
                        .. (sync ? new[] { "--sync-bn" } : [])];
                    string[] command = ranks == 1 ? train : [mpiexec, "-n", I(ranks), .. train];
                    double before = done;
                    ChildTraining.Run(command, Math.Max(1, cores / ranks), f => advance(before + f * steps), TimeSpan.FromMinutes(30));
                    Record(c, series, seed, ChildTraining.ReadLog(Path.Combine(dir, "log.csv"), steps));
                    Directory.Delete(dir, recursive: true); // results.csv keeps what the report uses; checkpoints are not results
                    done += steps;
                    advance(done);
                }
        });
        Directory.Delete(Path.Combine(c.Dir, "runs"), recursive: true);
        foreach (ulong seed in c.Seeds) RecordTracking(c, seed, steps);
    }

    private static string I<T>(T v) where T : IFormattable => v.ToString(null, CultureInfo.InvariantCulture);

    /// <summary>One run's numbers: final test accuracy, final training loss (mean of the last 10% of steps), the
    /// training loss in 50 windows, the first steps' losses one by one, and the test accuracy at each evaluation.</summary>
    private static void Record(ExperimentContext c, string series, ulong seed, ChildTraining.Log log)
    {
        int steps = log.Loss.Length, tail = Math.Max(1, steps / 10), window = Math.Max(1, steps / 50);
        c.Results.Add("final", series, null, "test_accuracy", log.Evaluations[^1].Accuracy, seed);
        c.Results.Add("final", series, null, "train_loss", log.Loss[^tail..].Average(), seed);
        for (int end = window; end <= steps; end += window)
            c.Results.Add("curve", series, end, "train_loss", log.Loss[(end - window)..end].Average(), seed);
        for (int s = 0; s < Math.Min(EarlySteps, steps); s++) c.Results.Add("early", series, s + 1, "train_loss", log.Loss[s], seed);
        foreach (var (step, accuracy) in log.Evaluations) c.Results.Add("test", series, step, "test_accuracy", accuracy, seed);
    }

    /// <summary>How closely each 2-rank run follows the single process: the largest |loss - loss of the single process|
    /// over the first <see cref="TrackSteps"/> steps (float rounding shows as ~1e-7; different statistics as ~0.1).</summary>
    private static void RecordTracking(ExperimentContext c, ulong seed, int steps)
    {
        int n = Math.Min(TrackSteps, steps);
        var single = c.Results.Series("early", "single", "train_loss", seed).Y;
        foreach (var series in new[] { "per_rank", "sync" })
        {
            var y = c.Results.Series("early", series, "train_loss", seed).Y;
            c.Results.Add("tracking", series, null, "max_abs_loss_difference", Enumerable.Range(0, n).Max(i => Math.Abs(y[i] - single[i])), seed);
        }
    }
}
