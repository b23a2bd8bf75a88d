using NormNet.Layers;
using NormNet.Losses;
using NormNet.Models;
using NormNet.Optim;

namespace NormNet.Tests.Models;

/// <summary>Describing built networks (what checkpoints will store): Describe -> ToJson -> Parse -> Build rebuilds the
/// same state_dict, the description of a built spec is the spec with its sizes filled in, and a spec-built CNN trains.</summary>
public sealed class NetworkSpecRoundTripTests
{
    private static List<string> StateLayout(Module model) =>
        model.StateEntries().Select(e => $"{e.Name} {(e.Tensor is null ? "int64" : e.Tensor.ShapeString)}").ToList();

    public static TheoryData<string, bool, int[], int> Networks() => new()
    {
        { "mlp-sigmoid", true, [784], 10 },
        { "mlp", false, [13], 1 },
        { "cnn", true, [1, 28, 28], 10 },
        { "cnn", false, [3, 17, 23], 4 },
        { "resnet", true, [3, 32, 32], 100 },
        { "resnet", false, [1, 28, 28], 10 },
    };

    [Theory]
    [MemberData(nameof(Networks))]
    public void DescribeToJsonParseBuild_GivesTheSameStateDict(string family, bool batchNorm, int[] inputShape, int outputs)
    {
        var model = NetworkFamilies.Create(family, batchNorm).Build(inputShape, outputs, new Rng(1));
        string json = NetworkSpec.Describe(model).ToJson();
        var rebuilt = NetworkSpec.Parse(json, "checkpoint.json").Build(inputShape, outputs, new Rng(2));
        Assert.Equal(StateLayout(model), StateLayout(rebuilt));
        Assert.Equal(model.NamedModules().Select(m => $"{m.Name} {m.Module.GetType().Name}"), rebuilt.NamedModules().Select(m => $"{m.Name} {m.Module.GetType().Name}"));
        Assert.DoesNotContain("$outputs", json); // a description states every size
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void TheDescriptionOfABuiltSpec_IsTheSpecWithItsSizesFilledIn(string family, bool batchNorm, int[] inputShape, int outputs)
    {
        var spec = NetworkFamilies.Create(family, batchNorm);
        var described = NetworkSpec.Describe(spec.Build(inputShape, outputs, new Rng(1)));
        Assert.Equal(spec.Resolve(inputShape, outputs), described);
        Assert.NotEqual(spec, described);
        Assert.Equal(described, described.Resolve(inputShape, outputs)); // nothing left to infer
    }

    [Fact]
    public void EveryLayerTypeAndArgument_SurvivesTheRoundTrip()
    {
        var spec = NetworkSpec.Parse(NetworkSpecParseTests.EveryLayer, "net.json");
        var model = spec.Build([3, 8, 8], 5, new Rng(1));
        var described = NetworkSpec.Describe(model);
        Assert.Equal(spec.Resolve([3, 8, 8], 5), described);
        string json = described.ToJson();
        Assert.Contains("{\"type\": \"BatchNorm2d\", \"num_features\": 8, \"eps\": 0.001, \"momentum\": null, \"affine\": false}", json);
        Assert.Contains("{\"type\": \"MaxPool2d\", \"kernel_size\": 3, \"stride\": 1, \"padding\": 1}", json);
        Assert.Contains("{\"type\": \"AvgPool2d\", \"kernel_size\": 2}", json); // stride = kernel_size is PyTorch's default
        Assert.Contains("{\"type\": \"Dropout\", \"p\": 0.25}", json);
        Assert.Contains("\"track_running_stats\": false", json);
        Assert.Equal(StateLayout(model), StateLayout(NetworkSpec.Parse(json, "again.json").Build([3, 8, 8], 5, new Rng(9))));
    }

    [Fact]
    public void AHandBuiltNetwork_IsDescribedAndRebuiltUnderItsStateDictNames()
    {
        var rng = new Rng(3);
        var model = new Sequential(new Linear(20, 16, bias: false, rng: rng), new BatchNorm1d(16, momentum: 0.05), new Tanh(),
            new Residual(new Sequential(new Linear(16, 16, rng: rng), new ReLU())), new Dropout(0.1, rng), new Linear(16, 3, rng: rng));
        var spec = NetworkSpec.Describe(model);
        Assert.Equal("{\"type\": \"Linear\", \"in_features\": 20, \"out_features\": 16, \"bias\": false}", spec.Layers[0].ToString());
        var rebuilt = NetworkSpec.Parse(spec.ToJson(), "hand.json").Build([20], 3, new Rng(4));
        Assert.Equal(StateLayout(model), StateLayout(rebuilt));
        Assert.Equal(0.05, ((BatchNorm1d)rebuilt[1]).Momentum);
        Assert.StartsWith("hand.json: layers[0] (Linear): in_features is 20, but its input (21,) has 21 features",
            Assert.Throws<InvalidDataException>(() => NetworkSpec.Parse(spec.ToJson(), "hand.json").Build([21], 3, new Rng(4))).Message);
    }

    [Fact]
    public void LayersWithoutATableEntry_AreNamedByStateDictPath()
    {
        var folded = new Sequential(new Linear(4, 4, rng: new Rng(1)), new Residual(new Sequential(new ReLU(), new ChannelAffine(4))));
        Assert.StartsWith("NetworkSpec.Describe: ChannelAffine at '1.body.1' has no entry in the layer table; supported: Linear, Conv2d",
            Assert.Throws<NotSupportedException>(() => NetworkSpec.Describe(folded)).Message);
        var bare = new Sequential(new Residual(new Linear(4, 4, rng: new Rng(1))));
        Assert.Contains("the body of Residual at '0' is a Linear", Assert.Throws<NotSupportedException>(() => NetworkSpec.Describe(bare)).Message);
        var channelsLast = new Sequential(new BatchNorm2d(4, memoryFormat: MemoryFormat.ChannelsLast));
        Assert.Contains("BatchNorm2d at '0' is channels-last", Assert.Throws<NotSupportedException>(() => NetworkSpec.Describe(channelsLast)).Message);
        Assert.Contains("expected the Sequential that Build returns, got Linear",
            Assert.Throws<ArgumentException>(() => NetworkSpec.Describe(new Linear(2, 2, rng: new Rng(1)))).Message);
    }

    [Fact]
    public void ASpecBuiltCnn_TrainsOn3x16x16Images()
    {
        const int batch = 8, classes = 5;
        var model = NetworkFamilies.Cnn([8, 16], hidden: 32).Build([3, 16, 16], classes, new Rng(11));
        var x = Tensor.FromArray(TestUtil.RandomNormal(batch * 3 * 16 * 16, 12), batch, 3, 16, 16);
        int[] labels = [0, 1, 2, 3, 4, 0, 1, 2];
        var loss = new CrossEntropyLoss();
        var sgd = new Sgd(model.NamedParameters(), learningRate: 0.1);
        var losses = new List<double>();
        for (int step = 0; step < 6; step++)
        {
            sgd.ZeroGrad();
            var logits = model.Forward(x);
            Assert.Equal([batch, classes], logits.Shape);
            losses.Add(loss.Forward(logits, labels));
            var dx = model.Backward(loss.Backward());
            Assert.Equal(x.Shape, dx.Shape);
            sgd.Step();
        }
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Assert.True(losses[^1] < 0.8 * losses[0], $"the loss on a fixed batch should fall: {string.Join(", ", losses.Select(l => l.ToString("F3")))}");
        Assert.Contains(model.NamedParameters(), p => p.Name == "9.weight" && p.Parameter.Value.Shape.SequenceEqual([32, 16 * 4 * 4]));
    }
}
