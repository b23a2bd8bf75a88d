using NormNet.Data;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Serialization;

namespace NormNet.Cli.Commands;

/// <summary>A run's model, its description and its loaders, built from the settings and the loaded data; everything that
/// can be wrong with the combination (a network that does not take the data's shape) fails here, before any training.</summary>
internal sealed record TrainingRun(Sequential Model, ModelCard Card, DataLoader Train, DataLoader Test)
{
    /// <summary>The batch size of evaluation: bounded memory whatever the size of the test set.</summary>
    public const int EvalBatchSize = 500;

    public static TrainingRun Prepare(TrainSettings settings, DataChoice.Loaded data)
    {
        var train = data.Train;
        if (train.Task == TaskKind.Classification && train.ClassCount < 2)
            throw new UsageException($"{train.Name}: classification needs at least 2 classes, found {train.ClassCount} ({string.Join(", ", train.ClassNames)}).");
        var standardizer = train is not ImageSet ? Standardizer.Fit(train)
            : settings.Data.Normalize == "channel" ? Standardizer.FitPerChannel(train) : null;
        int[] inputShape = settings.Network.InputShapeFor(train);
        int outputs = train.Task == TaskKind.Classification ? train.ClassCount : train.TargetCount;
        if (settings.BatchSize > train.Count)
            throw new UsageException($"--batch-size {settings.BatchSize} is larger than the training set ({train.Count} samples).");
        CheckMemory(settings, inputShape, outputs);
        var model = settings.Network.Build(inputShape, outputs, new Rng(settings.Seed));
        var card = ModelCard.Describe(train, inputShape, data.Description, standardizer, data.Source, NetworkSpec.Describe(model).ToJson())
            with { FeatureNames = (train as TensorSet)?.FeatureNames ?? [] };
        var layout = settings.Network.LayoutFor(train);
        // ghost batch norm needs whole virtual batches: every batch full (the epoch's remainder is skipped)
        var virtualSizes = model.NamedModules().Select(m => m.Module).OfType<BatchNormBase>().Select(b => b.VirtualBatchSize).OfType<int>().Distinct().ToList();
        foreach (int v in virtualSizes)
            if (settings.BatchSize % v != 0)
                throw new UsageException($"--batch-size {settings.BatchSize} is not a multiple of the virtual batch size {v} of ghost batch norm.");
        return new TrainingRun(model, card,
            new DataLoader(train, settings.BatchSize, settings.Seed, dropLast: virtualSizes.Count > 0, layout: layout, standardizer: standardizer),
            Loader(data.Test, card, layout));
    }

    /// <summary>Refuses, before anything is built, a configuration whose activations cannot fit in the memory this process
    /// may use (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>: the machine's, or a container or GC heap limit's).</summary>
    /// <remarks>The estimate is what a training step keeps: about three floats (output, gradient, scratch) per element of
    /// every layer's output per sample, times the batch; weights, gradients and optimizer state are small beside it for
    /// these networks and are left out.</remarks>
    private static void CheckMemory(TrainSettings settings, int[] inputShape, int outputs)
    {
        long elements;
        try { elements = settings.Network.Spec().ActivationElementsPerSample(inputShape, outputs); }
        catch (InvalidDataException e)
        {
            throw new UsageException($"{e.Message} (the data gives inputs of {string.Join('x', inputShape)} and {outputs} outputs)");
        }
        double bytes = 3.0 * sizeof(float) * elements * settings.BatchSize;
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (bytes > 0.8 * available)
            throw new UsageException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"this network at batch {settings.BatchSize} needs about {bytes / (1 << 30):F1} GiB for its activations ({elements:N0} values per sample), more than the {available / (double)(1 << 30):F1} GiB this process may use; lower --batch-size or --image-size."));
    }

    /// <summary>A non-shuffling loader of <paramref name="data"/> preprocessed as the card says.</summary>
    public static DataLoader Loader(Dataset data, ModelCard card, InputLayout layout) =>
        new(data, Math.Min(EvalBatchSize, data.Count), shuffle: false, layout: layout, standardizer: card.Standardizer());
}
