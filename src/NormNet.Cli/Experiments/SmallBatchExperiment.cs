using NormNet.Cli.Output;
using NormNet.Data;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Optim;
using NormNet.Training;

namespace NormNet.Cli.Experiments;

/// <summary>Seed section 4 pushed to its failure: the smaller the mini-batch, the noisier BN's statistics, until BN's
/// accuracy collapses. The built-in cnn trained with each normalization at batch sizes 2 to 128, test accuracy against
/// batch size, as in Wu and He's Group Normalization (2018), Figure 1.</summary>
internal sealed class SmallBatchExperiment : Experiment
{
    /// <summary>The batch sizes, the same in every mode (2 to 128, as the claim needs both ends).</summary>
    public static readonly int[] Batches = [2, 4, 8, 16, 32, 128];

    /// <summary>The normalizations, by their <c>--norm</c> names; none is the control.</summary>
    public static readonly string[] Norms = ["batch", "group", "layer", "renorm", "ghost", "none"];

    // Wu and He's recipe: SGD with momentum 0.9, the learning rate scaled linearly with the batch from a base batch of
    // 32 (theirs is 0.1 per 32); 0.03 per 32 was the better of 0.01 and 0.03 for the no-normalization control in a 1-epoch,
    // 2-seed quick trial (44% against 34% test accuracy at batch 2), with BN alike at both
    private const double BaseLr = 0.03, BaseBatch = 32, Momentum = 0.9;
    // the cnn's channels and hidden width, narrowed from the family's default (32, 64; 128) so that the 180 runs of full mode (108 quick) fit
    // the mode's time on 2 cores; GroupNorm's 4 groups divide every layer
    private static readonly int[] Channels = [8, 16];
    private const int Hidden = 32, Groups = 4, VirtualBatch = 16;

    public override string Name => "small-batch";
    public override string Title => "BN fails at small batches; batch-independent normalizations do not (seed section 4, Wu and He's Figure 1)";
    public override string Claim =>
        "Seed section 4, extended: mini-batch statistics are noisier for smaller batches; pushed far enough, BN's accuracy " +
        "degrades as the batch shrinks, while batch-independent normalizations (GroupNorm, LayerNorm) do not (Wu and He, 2018).";

    public override void Run(ExperimentContext c)
    {
        int epochs = c.Protocol.StepsOr(c.Pick(3, 2, 1));
        double baseLr = c.Protocol.LrOr(BaseLr, Name);
        int[] batches = c.Protocol.BatchSize ?? Batches;
        var train = First(c.Data.Train, c.Pick(8192, 1024, 256), "training subset");
        var test = First(c.Data.Test, c.Pick(4000, 1000, 200), "test subset");
        c.Setting("epochs", epochs);
        c.Setting("train_images", train.Count);
        c.Setting("test_images", test.Count);
        c.Setting("base_lr", baseLr);
        c.Setting("base_batch", BaseBatch);
        c.Setting("momentum", Momentum);
        c.Setting("conv_channels_1", Channels[0]);
        c.Setting("conv_channels_2", Channels[1]);
        c.Setting("hidden", Hidden);
        c.Setting("groups", Groups);
        c.Setting("virtual_batch", VirtualBatch);
        c.Setting("batch_sizes", batches.Select(b => (double)b).ToArray());
        var runs = (from seed in c.Seeds
                    from batch in batches
                    from norm in Norms
                    select new ConcurrentRun((double)epochs * train.Count, (results, advance) =>
                        TrainOne(results, train, test, norm, batch, baseLr * batch / BaseBatch, epochs, seed, advance))).ToList();
        ConcurrentRuns.Execute(c.Progress, c.Results, $"small-batch: {Norms.Length} normalizations x {batches.Length} batch sizes x {c.Seeds.Count} seeds", runs);
    }

    /// <summary>Trains one network and records its test accuracy, or that it diverged.</summary>
    private static void TrainOne(ResultsTable results, ImageSet train, ImageSet test, string norm, int batch, double lr, int epochs, ulong seed, Action<double> advance)
    {
        var model = Build(norm, batch, train, seed);
        var loader = new DataLoader(train, batch, seed, dropLast: true, layout: InputLayout.Image);
        var trainer = new Trainer(model, new Sgd(model.NamedParameters(), lr, Momentum), loader);
        trainer.StepCompleted = r => { if (r.Step % 50 == 0) advance((double)r.Step * batch); };
        results.Add("training", norm, batch, "learning_rate", lr, seed);
        try
        {
            trainer.Run((long)epochs * loader.BatchesPerEpoch);
            var result = Trainer.Evaluate(model, new DataLoader(test, 500, shuffle: false, layout: InputLayout.Image));
            // outputs that are NaN or infinite: the run diverged though its loss stayed finite
            if (result.OutputsFinite) results.Add("training", norm, batch, "test_accuracy", result.Accuracy, seed);
            else results.Add("training", norm, batch, "diverged", 1, seed);
        }
        catch (TrainingDivergedException)
        {
            results.Add("training", norm, batch, "diverged", 1, seed);
        }
    }

    /// <summary>The cnn with <paramref name="norm"/>; Ghost BN's virtual batch is 16 samples or the whole batch if smaller
    /// (where it is BN itself).</summary>
    public static Sequential Build(string norm, int batch, ImageSet train, ulong seed)
    {
        var normalization = Normalization.Parse(norm, Groups, Math.Min(VirtualBatch, batch));
        var spec = NetworkFamilies.Cnn(Channels, Hidden, normalization);
        return spec.Build([.. train.SampleShape], train.ClassCount, new Rng(seed));
    }

    public override string Report(ResultsTable r, string dir, ReportWriter w, ExperimentMode mode) => new SmallBatchReport(r, dir, w, mode).Write();
}
