using System.CommandLine;
using System.Globalization;
using NormNet.Cli.Output;
using NormNet.Data;
using NormNet.Models;
using NormNet.Serialization;
using NormNet.Training;

namespace NormNet.Cli.Commands;

/// <summary><c>normnet train</c>: trains a built-in architecture, writing checkpoints, a CSV log and plots.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var arch = new Option<string?>("--arch") { Description = $"Architecture: {string.Join(", ", Architectures.Names)} (required unless --resume)." };
        arch.AcceptOnlyFromAmong(Architectures.Names);
        var bn = new Option<string?>("--bn") { Description = "Batch normalization on or off (default on)." };
        bn.AcceptOnlyFromAmong("on", "off");
        var batch = new Option<int?>("--batch-size") { Description = "Mini-batch size (default 60 for mlp-sigmoid, as in the paper; 128 otherwise)." };
        var steps = new Option<int?>("--steps") { Description = "Total training steps (default: --epochs, else one epoch)." };
        var epochs = new Option<int?>("--epochs") { Description = "Total epochs, when --steps is not given." };
        var lr = new Option<double?>("--lr") { Description = "Learning rate (default 0.5 for mlp-sigmoid with SGD, 0.05 for the convolutional nets, 1e-3 for Adam)." };
        var optimizer = new Option<string?>("--optimizer") { Description = "sgd, momentum, nesterov, adam or adamw (default sgd for mlp-sigmoid, momentum otherwise)." };
        optimizer.AcceptOnlyFromAmong(TrainSettings.Optimizers);
        var momentum = new Option<double>("--momentum") { Description = "Momentum for the momentum and nesterov optimizers.", DefaultValueFactory = _ => 0.9 };
        var weightDecay = new Option<double>("--weight-decay") { Description = "Weight decay.", DefaultValueFactory = _ => 0 };
        var initStd = new Option<double?>("--init-std") { Description = "mlp-sigmoid only: std of the Gaussian initial weights (default 0.1, \"small random Gaussian values\")." };
        var evalEvery = new Option<int?>("--eval-every") { Description = "Evaluate on the test set and save a checkpoint every N steps (default: 20 times per run)." };
        var resume = new Option<string?>("--resume") { Description = "Continue from a checkpoint.safetensors written by normnet train (to --steps/--epochs in total)." };
        var seed = CommonOptions.Seed();
        var data = CommonOptions.Data();
        var threads = CommonOptions.Threads();
        var outDir = CommonOptions.Out("checkpoint.safetensors, model.safetensors, log.csv and plots (default runs/train-ARCH-TIMESTAMP, or the checkpoint's folder with --resume)");
        var command = new Command("train", "Train a built-in architecture with or without batch normalization.")
        {
            arch, bn, batch, steps, epochs, lr, optimizer, momentum, weightDecay, initStd, evalEvery, resume, seed, data, threads, outDir,
        };
        command.SetAction(r =>
        {
            using var compute = CommonOptions.UseThreads(r.GetValue(threads));
            TrainSettings settings;
            string? resumePath = r.GetValue(resume);
            if (resumePath is not null)
            {
                if (!File.Exists(resumePath)) throw new UsageException($"checkpoint not found: {resumePath}");
                settings = TrainSettings.FromMetadata(SafeTensors.Load(resumePath).Metadata, resumePath);
                if (r.GetValue(arch) is { } a && a != settings.Arch)
                    throw new UsageException($"{resumePath} is a checkpoint of {settings.Arch}, not {a}.");
                if (r.GetValue(bn) is { } b && (b == "on") != settings.BatchNorm)
                    throw new UsageException($"{resumePath} was trained with --bn {(settings.BatchNorm ? "on" : "off")}, not {b}.");
            }
            else
            {
                string name = r.GetValue(arch) ?? throw new UsageException("--arch is required (or --resume CHECKPOINT).");
                string opt = r.GetValue(optimizer) ?? (name == "mlp-sigmoid" ? "sgd" : "momentum");
                settings = new TrainSettings(name, r.GetValue(bn) != "off",
                    CommonOptions.Positive(r.GetValue(batch) ?? (name == "mlp-sigmoid" ? 60 : 128), "--batch-size"),
                    r.GetValue(lr) ?? TrainSettings.DefaultLearningRate(name, opt), opt, r.GetValue(momentum), r.GetValue(weightDecay),
                    r.GetValue(seed), name == "mlp-sigmoid" ? r.GetValue(initStd) ?? 0.1 : null);
                if (!(settings.LearningRate > 0)) throw new UsageException($"--lr must be positive, got {settings.LearningRate}.");
            }
            var dataset = CommonOptions.LoadData(r.GetValue(data));
            string dir = r.GetValue(outDir) ?? (resumePath is not null ? Path.GetDirectoryName(Path.GetFullPath(resumePath))! : CommonOptions.DefaultOut($"train-{settings.Arch}"));
            return Train(settings, dataset, dir, r.GetValue(steps), r.GetValue(epochs), r.GetValue(evalEvery), resumePath);
        });
        return command;
    }

    private static int Train(TrainSettings settings, ImageDataset dataset, string dir, int? steps, int? epochs, int? evalEvery, string? resumePath)
    {
        Directory.CreateDirectory(dir);
        var progress = new Progress();
        progress.Info($"Data: {dataset.Description}");
        progress.Info($"Model: {settings.Describe()}");
        var model = settings.BuildModel();
        var optimizer = settings.BuildOptimizer(model);
        var layout = Architectures.LayoutOf(settings.Arch);
        var train = new DataLoader(dataset.Train, settings.BatchSize, settings.Seed, layout: layout);
        var test = new DataLoader(dataset.Test, 1000, shuffle: false, layout: layout);
        var trainer = new Trainer(model, optimizer, train);
        var log = new TrainLog(Path.Combine(dir, "log.csv"));
        if (resumePath is not null)
        {
            try { trainer.LoadCheckpoint(resumePath); }
            catch (InvalidDataException e) { throw new UsageException(e.Message); }
            log.LoadUpTo(trainer.Step);
            progress.Info($"Resumed from {resumePath} at step {trainer.Step}.");
        }
        long total = steps is { } s ? CommonOptions.Positive(s, "--steps")
            : (long)CommonOptions.Positive(epochs ?? 1, "--epochs") * train.BatchesPerEpoch;
        if (total <= trainer.Step) throw new UsageException($"the run is already at step {trainer.Step}; ask for more than that with --steps or --epochs.");
        long every = evalEvery is { } ev ? CommonOptions.Positive(ev, "--eval-every") : Math.Max(1, total / 20);
        var meta = new Dictionary<string, string> { [TrainSettings.MetadataKey] = settings.ToJson(), ["data"] = dataset.Description };
        string checkpoint = Path.Combine(dir, "checkpoint.safetensors");
        trainer.StepCompleted = r => log.AddStep(r);
        EvaluationResult? last = null;
        trainer.Evaluated = r =>
        {
            last = r;
            log.AddEvaluation(r);
            trainer.SaveCheckpoint(checkpoint, meta);
            log.Save();
        };
        long start = trainer.Step;
        progress.Run($"training {settings.Arch}", total - start, advance =>
        {
            while (trainer.Step < total)
            {
                long target = Math.Min(total, (trainer.Step / every + 1) * every);
                trainer.Run(target, test, every);
                advance(trainer.Step - start);
            }
        });
        ModelState.Save(model, Path.Combine(dir, "model.safetensors"), meta);
        log.Save();
        log.Plot(dir, settings.Describe());
        progress.Info(string.Create(CultureInfo.InvariantCulture,
            $"Step {trainer.Step}: test accuracy {last!.Accuracy:P2}, test loss {last.Loss:F4}. Wrote {checkpoint}, model.safetensors, log.csv, loss.png, accuracy.png in {dir}."));
        return 0;
    }
}
