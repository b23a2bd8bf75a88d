using System.CommandLine;
using System.Globalization;
using NormNet.Cli.Output;
using NormNet.Data;
using NormNet.Distributed;
using NormNet.Serialization;
using NormNet.Training;

namespace NormNet.Cli.Commands;

/// <summary><c>normnet train</c>: trains a built-in family or a model file on the user's data (or Fashion-MNIST), writing
/// checkpoints, a CSV log and plots; the files record the data, preprocessing and network (<see cref="ModelCard"/>).</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var network = new NetworkOptions();
        var data = new DataChoice.Options();
        var batch = new Option<int?>("--batch-size") { Description = "Mini-batch size (default 60 for mlp-sigmoid, as in the paper; 128 otherwise)." };
        var steps = new Option<int?>("--steps") { Description = "Total training steps (default: --epochs, else one epoch)." };
        var epochs = new Option<int?>("--epochs") { Description = "Total epochs, when --steps is not given." };
        var lr = new Option<double?>("--lr") { Description = "Learning rate (default 0.5 for mlp-sigmoid with SGD, 0.05 for the other nets with SGD, 1e-3 for Adam)." };
        var optimizer = new Option<string?>("--optimizer") { Description = "sgd, momentum, nesterov, adam or adamw (default sgd for mlp-sigmoid, momentum otherwise)." };
        optimizer.AcceptOnlyFromAmong(TrainSettings.Optimizers);
        var momentum = new Option<double>("--momentum") { Description = "Momentum for the momentum and nesterov optimizers.", DefaultValueFactory = _ => 0.9 };
        var weightDecay = new Option<double>("--weight-decay") { Description = "Weight decay.", DefaultValueFactory = _ => 0 };
        var evalEvery = new Option<int?>("--eval-every") { Description = "Evaluate on the test set and save a checkpoint every N steps (default: 20 times per run)." };
        var resume = new Option<string?>("--resume") { Description = "Continue from a checkpoint.safetensors written by normnet train (to --steps/--epochs in total); --lr, --momentum, --weight-decay and --eval-every may change, the network, data, batch size, seed, optimizer and --sync-bn may not (they are kept)." };
        var allowOtherData = new Option<bool>("--allow-other-data") { Description = "With --resume: continue although the data's contents differ from those the checkpoint was trained on." };
        var syncBn = new Option<bool>("--sync-bn") { Description = "Under mpiexec: batch norm statistics over the global batch (SyncBatchNorm) instead of each rank's shard; stored in the checkpoint, so --resume keeps it." };
        var seed = CommonOptions.Seed();
        var threads = CommonOptions.Threads();
        var outDir = CommonOptions.Out("checkpoint.safetensors, model.safetensors, log.csv and plots (default runs/train-ARCH-TIMESTAMP, or the checkpoint's folder with --resume)");
        var command = new Command("train", "Train a network (a built-in family or a model file) on your data, with or without batch normalization.")
        {
            batch, steps, epochs, lr, optimizer, momentum, weightDecay, evalEvery, resume, allowOtherData, syncBn, seed, threads, outDir,
        };
        foreach (var option in network.All.Concat(data.All)) command.Options.Add(option);
        command.SetAction(r =>
        {
            using var comm = Communicator.FromEnvironment(); // MPI under mpiexec, else this process alone
            return DistributedTraining.Guard(comm, () => Action(r, comm));
        });
        return command;

        int Action(ParseResult r, ICommunicator comm)
        {
            using var compute = CommonOptions.UseThreads(r.GetValue(threads));
            string? resumePath = r.GetValue(resume);
            CheckRanges(r.GetValue(lr), r.GetValue(momentum), r.GetValue(weightDecay));
            TrainSettings settings;
            var changed = new List<string>();
            if (resumePath is not null)
            {
                if (!File.Exists(resumePath)) throw new UsageException($"checkpoint not found: {resumePath}");
                if (network.AnyGiven(r) || data.AnyGiven(r))
                    throw new UsageException($"--resume continues {resumePath} with its own network and data; drop the network and data options.");
                var saved = TrainSettings.FromMetadata(SafeTensors.Load(resumePath).Metadata, resumePath)
                    ?? throw new UsageException($"{resumePath} has no NormNet training settings: it cannot be resumed.");
                settings = Resumed(saved, r, resumePath, changed, batch, seed, optimizer, syncBn, lr, momentum, weightDecay);
            }
            else
            {
                var net = network.Parse(r);
                string opt = r.GetValue(optimizer) ?? (net.Arch == "mlp-sigmoid" ? "sgd" : "momentum");
                settings = new TrainSettings(net, data.Parse(r, r.GetValue(seed)),
                    CommonOptions.Positive(r.GetValue(batch) ?? (net.Arch == "mlp-sigmoid" ? 60 : 128), "--batch-size"),
                    r.GetValue(lr) ?? TrainSettings.DefaultLearningRate(net.Arch ?? "", opt), opt, r.GetValue(momentum), r.GetValue(weightDecay),
                    r.GetValue(seed), r.GetValue(syncBn));
            }
            string dir = r.GetValue(outDir) ?? (resumePath is not null ? Path.GetDirectoryName(Path.GetFullPath(resumePath))!
                : CommonOptions.DefaultOut($"train-{settings.Network.Arch ?? Path.GetFileNameWithoutExtension(settings.Network.ModelFile)}"));
            return Train(settings, dir, r.GetValue(steps), r.GetValue(epochs), r.GetValue(evalEvery), resumePath, changed,
                r.GetValue(allowOtherData), comm);
        }
    }

    /// <summary>Every numeric option in range and finite, before anything is loaded.</summary>
    private static void CheckRanges(double? lr, double momentum, double weightDecay)
    {
        string F(double v) => v.ToString(CultureInfo.InvariantCulture);
        if (lr is { } l && !(l > 0 && double.IsFinite(l))) throw new UsageException($"--lr must be positive and finite, got {F(l)}.");
        if (!(momentum >= 0 && momentum <= 1)) throw new UsageException($"--momentum must be in [0, 1], got {F(momentum)}.");
        if (!(weightDecay >= 0 && double.IsFinite(weightDecay))) throw new UsageException($"--weight-decay must be non-negative and finite, got {F(weightDecay)}.");
    }

    /// <summary>The checkpoint's settings with the options that may change mid-run applied (learning rate, momentum,
    /// weight decay; the caller applies steps and the evaluation interval), and those that cannot (batch size, seed,
    /// optimizer, --sync-bn: kept when not given) refused when they differ.</summary>
    private static TrainSettings Resumed(TrainSettings saved, ParseResult r, string path, List<string> changed,
        Option<int?> batch, Option<ulong> seed, Option<string?> optimizer, Option<bool> syncBn, Option<double?> lr, Option<double> momentum, Option<double> weightDecay)
    {
        if (r.GetResult(syncBn) is { Implicit: false } && r.GetValue(syncBn) != saved.SyncBn)
            throw new UsageException($"{path} was trained {(saved.SyncBn ? "with --sync-bn" : "without --sync-bn")}; a resumed run cannot change it " +
                $"(got --sync-bn {(r.GetValue(syncBn) ? "true" : "false")}); drop --sync-bn to keep the checkpoint's.");
        void Fixed<T>(Option<T> option, T value, T savedValue)
        {
            if (r.GetResult(option) is { Implicit: false } && !EqualityComparer<T>.Default.Equals(value, savedValue))
                throw new UsageException($"{path} was trained with {option.Name} {savedValue}; a resumed run cannot change it (got {value}).");
        }
        Fixed(batch, r.GetValue(batch), saved.BatchSize);
        Fixed(seed, r.GetValue(seed), saved.Seed);
        Fixed(optimizer, r.GetValue(optimizer), saved.Optimizer);
        var settings = saved;
        if (r.GetValue(lr) is { } l && l != saved.LearningRate) { settings = settings with { LearningRate = l }; changed.Add(F($"learning rate {saved.LearningRate} -> {l}")); }
        if (r.GetResult(momentum) is { Implicit: false } && r.GetValue(momentum) != saved.Momentum)
        {
            settings = settings with { Momentum = r.GetValue(momentum) };
            changed.Add(F($"momentum {saved.Momentum} -> {settings.Momentum}"));
        }
        if (r.GetResult(weightDecay) is { Implicit: false } && r.GetValue(weightDecay) != saved.WeightDecay)
        {
            settings = settings with { WeightDecay = r.GetValue(weightDecay) };
            changed.Add(F($"weight decay {saved.WeightDecay} -> {settings.WeightDecay}"));
        }
        return settings;
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static int Train(TrainSettings settings, string dir, int? steps, int? epochs, int? evalEvery, string? resumePath, List<string> changed,
        bool allowOtherData, ICommunicator comm)
    {
        bool syncBn = settings.SyncBn;
        var progress = new Progress(quiet: comm.Rank != 0); // rank 0 alone prints and writes files
        var data = settings.Data.Load();
        progress.Info($"Data: {data.Description}");
        var run = TrainingRun.Prepare(settings, data);
        progress.Info($"Model: {settings.Describe()}; input {string.Join('x', run.Card.InputShape)}, {run.Card.Outputs} outputs ({run.Card.Task.ToString().ToLowerInvariant()})");
        if (run.Train.SkipsSingleSampleBatch)
            progress.Info($"Note: {data.Train.Count} training samples at batch {settings.BatchSize} leave a last batch of one sample, which batch norm cannot train on; it is skipped in each epoch (a different sample each epoch).");
        var trainer = new Trainer(run.Model, settings.BuildOptimizer(run.Model), run.Train);
        var log = new TrainLog(Path.Combine(dir, "log.csv"), run.Card.Task);
        if (resumePath is not null)
        {
            if (!allowOtherData) CheckResumedData(resumePath, run.Card);
            try { trainer.LoadCheckpoint(resumePath); }
            catch (InvalidDataException e) { throw new UsageException(e.Message); }
            progress.Info($"Resumed from {resumePath} at step {trainer.Step}{(changed.Count > 0 ? "; changed: " + string.Join(", ", changed) : "")}.");
        }
        long total = steps is { } s ? CommonOptions.Positive(s, "--steps")
            : (long)CommonOptions.Positive(epochs ?? 1, "--epochs") * run.Train.BatchesPerEpoch;
        if (total <= trainer.Step) throw new UsageException($"the run is already at step {trainer.Step}; ask for more than that with --steps or --epochs.");
        long every = evalEvery is { } ev ? CommonOptions.Positive(ev, "--eval-every") : DefaultEvalInterval(total - trainer.Step, run);
        if (evalEvery is null)
            progress.Info($"Evaluating on the {run.Test.Data.Count:N0} test samples every {every} steps (evaluation kept to about 10% of the run; --eval-every to change).");
        if (comm.Size > 1)
        {
            if (syncBn) SyncBatchNorm.ConvertSyncBatchNorm(run.Model, comm);
            DistributedTraining.CheckSameRun(comm, $"{settings.ToJson()}|steps {total}|every {every}|sync-bn {syncBn}|data {run.Card.DataFingerprint}|from {trainer.Step}", run.Model);
            progress.Info(DistributedTraining.Describe(comm, settings.BatchSize, syncBn));
            trainer.Parallel = new DataParallel(comm, run.Model);
        }
        else if (syncBn) progress.Info("Note: --sync-bn has no effect in a single process (start it with mpiexec -n N).");
        using var runLock = comm.Rank == 0 ? RunLock.Acquire(dir) : null;
        if (resumePath is not null) log.LoadUpTo(trainer.Step);
        var meta = run.Card.ToMetadata(new Dictionary<string, string> { [TrainSettings.MetadataKey] = settings.ToJson(), ["data"] = data.Description });
        string checkpoint = Path.Combine(dir, "checkpoint.safetensors");
        EvaluationResult? last = null;
        long start = trainer.Step;
        progress.Run("training", total - start, advance =>
        {
            double lossSum = 0, metricSum = 0;
            int since = 0;
            trainer.StepCompleted = r =>
            {
                log.AddStep(r);
                (lossSum, metricSum, since) = (lossSum + r.Loss, metricSum + r.BatchAccuracy, since + 1);
                advance(r.Step - start);
            };
            trainer.Evaluated = r =>
            {
                last = r;
                log.AddEvaluation(r);
                trainer.SaveCheckpoint(checkpoint, meta);
                log.Save();
                progress.Line(EvaluationLine(r, total, lossSum / Math.Max(1, since), metricSum / Math.Max(1, since)));
                (lossSum, metricSum, since) = (0, 0, 0);
            };
            trainer.Run(total, run.Test, every);
        });
        if (comm.Rank != 0) return 0;
        ModelState.Save(run.Model, Path.Combine(dir, "model.safetensors"), meta);
        log.Save();
        log.Plot(dir, settings.Describe());
        progress.Info($"Step {trainer.Step}: {EvalCommand.Summary(last!)}. Wrote checkpoint.safetensors, model.safetensors, log.csv and plots in {dir}.");
        return 0;
    }

    /// <summary>The default evaluation interval: as many evaluations (at most 20, at least the last step's) as keep their cost,
    /// a forward pass over the test set each (about a third of a training step per batch), to about 10% of the run.</summary>
    internal static long DefaultEvalInterval(long steps, TrainingRun run)
    {
        double evalCost = Math.Ceiling(run.Test.Data.Count / (double)run.Train.BatchSize) / 3.0; // in training steps
        long evaluations = Math.Clamp((long)(0.1 * steps / Math.Max(evalCost, 1e-9)), 1, 20);
        return Math.Max(1, (steps + evaluations - 1) / evaluations);
    }

    /// <summary>One line per evaluation: the step, the training loss and metric averaged since the last evaluation, the test's.</summary>
    private static string EvaluationLine(EvaluationResult r, long total, double trainLoss, double trainMetric) => r.Task == Data.TaskKind.Classification
        ? F($"step {r.Step}/{total}: train loss {trainLoss:F4}, train accuracy {trainMetric:P1}; test loss {r.Loss:F4}, test accuracy {r.Accuracy:P2}")
        : F($"step {r.Step}/{total}: train loss {trainLoss:G5}, train RMSE {trainMetric:G5}; test RMSE {r.Rmse:G5}, test R^2 {r.R2:F4}");

    private static void CheckResumedData(string path, ModelCard card)
    {
        var saved = ModelCard.FromMetadata(SafeTensors.Load(path).Metadata, path);
        if (saved?.DataFingerprint is { } fingerprint && fingerprint != card.DataFingerprint)
            throw new UsageException($"{path} was trained on data with fingerprint {fingerprint} ({saved.Data}), but the data now found has {card.DataFingerprint}: it has changed (--allow-other-data to continue anyway).");
    }
}
