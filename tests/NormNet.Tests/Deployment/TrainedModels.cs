using NormNet.Data;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Optim;
using NormNet.Training;

namespace NormNet.Tests.Deployment;

/// <summary>The built-in architectures, each trained a few steps on the embedded subset (so batch norm's running
/// statistics are far from their initial 0 and 1) and put in eval mode; trained once, shared by the tests of the
/// "Trained models" collection, which run one at a time (a module's forward reuses its buffers).</summary>
public sealed class TrainedModels
{
    public static readonly ImageDataset Data = DataSets.FashionMnistSubset();

    private readonly Dictionary<(string, bool), Sequential> _models = [];
    private readonly Dictionary<InputLayout, Tensor> _testBatches = [];

    /// <summary>Every (architecture, batch norm) pair.</summary>
    public static TheoryData<string, bool> All()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in Architectures.Names)
        {
            data.Add(name, true);
            data.Add(name, false);
        }
        return data;
    }

    /// <summary>The architectures with batch norm.</summary>
    public static TheoryData<string> WithBatchNorm() => new(Architectures.Names);

    /// <summary>The model after 4 Adam steps on batches of 8, in eval mode (running statistics 1 - 0.9^4 = 34% batch statistics).</summary>
    public Sequential Get(string name, bool batchNorm)
    {
        lock (_models)
        {
            if (_models.TryGetValue((name, batchNorm), out var model)) return model;
            model = Architectures.Create(name, batchNorm, new Rng(11));
            var loader = new DataLoader(Data.Train, 8, seed: 12, layout: Architectures.LayoutOf(name));
            new Trainer(model, new Adam(model.NamedParameters(), 2e-3), loader).Run(4);
            model.Eval();
            _models[(name, batchNorm)] = model;
            return model;
        }
    }

    /// <summary>The first 16 test images in the architecture's layout.</summary>
    public Tensor TestBatch(string name)
    {
        var layout = Architectures.LayoutOf(name);
        lock (_testBatches)
        {
            if (!_testBatches.TryGetValue(layout, out var batch))
                _testBatches[layout] = batch = new DataLoader(Data.Test, 16, shuffle: false, layout: layout).Next().Inputs.Clone();
            return batch;
        }
    }

    /// <summary>The first <paramref name="count"/> test images in the architecture's layout.</summary>
    public static Tensor TestImages(string name, int count) =>
        new DataLoader(Data.Test, count, shuffle: false, layout: Architectures.LayoutOf(name)).Next().Inputs;
}

[CollectionDefinition(Name)]
public sealed class TrainedModelsCollection : ICollectionFixture<TrainedModels>
{
    public const string Name = "Trained models";
}
