using NormNet.Data;
using NormNet.Distributed;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Optim;
using NormNet.Training;

namespace NormNet.DistributedChild;

/// <summary>The small training runs the distributed tests compare: an MLP or a CNN on synthetic 12x12 images of four
/// classes, SGD with momentum. The same recipe runs single-process in the xunit test and data-parallel here.</summary>
public static class TrainingRecipe
{
    /// <summary>The seed of the data, the initial weights and the data order.</summary>
    public const ulong Seed = 5;

    /// <summary>512 images, 12x12, of four classes: a bright square whose position depends on the class, plus noise.</summary>
    public static ImageSet Data()
    {
        const int count = 512, side = 12;
        var rng = new Rng(Seed);
        var images = new byte[count * side * side];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            int label = (int)(rng.NextUInt64() % 4);
            labels[i] = (byte)label;
            int top = 1 + 5 * (label / 2), left = 1 + 5 * (label % 2);
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                {
                    bool inside = y >= top && y < top + 5 && x >= left && x < left + 5;
                    double v = (inside ? 135 : 95) + 60 * rng.NextNormal();
                    images[(i * side + y) * side + x] = (byte)Math.Clamp(v, 0, 255);
                }
        }
        return new ImageSet(images, labels, side, side, classCount: 4, name: "synthetic squares");
    }

    /// <summary>A trainer for <paramref name="family"/> ("mlp" or "cnn") at global batch <paramref name="batchSize"/>;
    /// data-parallel over <paramref name="comm"/> when it is given (with SyncBatchNorm when <paramref name="syncBn"/>).</summary>
    public static Trainer Create(string family, int batchSize, ICommunicator? comm = null, bool syncBn = false)
    {
        var data = Data();
        bool mlp = family == "mlp";
        var spec = mlp ? NetworkFamilies.Mlp([32, 32]) : NetworkFamilies.Cnn([8, 16], hidden: 32);
        int[] input = mlp ? [data.FeatureCount] : [.. data.SampleShape];
        var model = spec.Build(input, 4, new Rng(Seed));
        var loader = new DataLoader(data, batchSize, Seed, layout: mlp ? InputLayout.Flattened : InputLayout.Image);
        var trainer = new Trainer(model, new Sgd(model.NamedParameters(), 0.05, momentum: 0.9), loader);
        if (comm is not null)
        {
            if (syncBn) SyncBatchNorm.ConvertSyncBatchNorm(model, comm);
            trainer.Parallel = new DataParallel(comm, model);
        }
        return trainer;
    }
}
