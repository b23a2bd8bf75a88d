using NormNet.Layers;
using NormNet.Models;

namespace NormNet.Tests.Models;

/// <summary>Shape inference: the families on several input shapes (checked against what the built layers really
/// compute), and one clear error, before anything is built, for each way a description can fail to fit its data.</summary>
public sealed class NetworkSpecShapeTests
{
    private static InvalidDataException Fails(string json, int[] inputShape, int outputs = 10)
    {
        var spec = NetworkSpec.Parse(json, "net.json");
        var rng = new Rng(5);
        var e = Assert.Throws<InvalidDataException>(() => spec.Build(inputShape, outputs, rng));
        Assert.True(rng.NextUInt64() == new Rng(5).NextUInt64(), "a failed Build must not draw weights: it checks everything first");
        Assert.Equal(e.Message, Assert.Throws<InvalidDataException>(() => spec.Resolve(inputShape, outputs)).Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    /// <summary>Builds the network and runs a batch of 2 through it: the real output shape must be the inferred one.</summary>
    private static void AssertInferenceMatchesTheLayers(NetworkSpec spec, int[] inputShape, int outputs)
    {
        var inferred = spec.OutputShape(inputShape, outputs);
        Assert.Equal([outputs], inferred);
        var model = spec.Build(inputShape, outputs, new Rng(3));
        var x = Tensor.FromArray(TestUtil.RandomNormal(2 * inputShape.Aggregate(1, (a, b) => a * b), 4), [2, .. inputShape]);
        Assert.Equal([2, .. inferred], model.Forward(x).Shape);
    }

    [Theory]
    [InlineData(1, 28, 28)]
    [InlineData(3, 32, 32)]
    [InlineData(3, 17, 23)]
    [InlineData(2, 4, 4)]
    public void Cnn_AdaptsToTheImage(int c, int h, int w)
    {
        var spec = NetworkFamilies.Cnn();
        AssertInferenceMatchesTheLayers(spec, [c, h, w], 7);
        var resolved = spec.Resolve([c, h, w], 7);
        Assert.Equal(c, resolved.Layers[0].Arguments["in_channels"]);
        Assert.Equal(64 * (h / 4) * (w / 4), resolved.Layers[9].Arguments["in_features"]);
        Assert.Equal(7, resolved.Layers[^1].Arguments["out_features"]);
    }

    [Theory]
    [InlineData(1, 28, 28)]
    [InlineData(3, 32, 32)]
    [InlineData(3, 17, 23)]
    [InlineData(3, 1, 1)]
    public void ResNet_AdaptsToTheImage(int c, int h, int w)
    {
        AssertInferenceMatchesTheLayers(NetworkFamilies.ResNet(width: 8, blocks: [2, 1]), [c, h, w], 4);
        AssertInferenceMatchesTheLayers(NetworkFamilies.ResNet(batchNorm: false), [c, h, w], 10);
    }

    [Theory]
    [InlineData(784)]
    [InlineData(13)]
    [InlineData(1)]
    public void Mlp_AdaptsToTheFeatures(int features)
    {
        AssertInferenceMatchesTheLayers(NetworkFamilies.Mlp([256, 128], "tanh"), [features], 3);
        AssertInferenceMatchesTheLayers(NetworkFamilies.MlpSigmoid(batchNorm: false), [features], 1);
        Assert.Equal(features, NetworkFamilies.Mlp([]).Resolve([features], 2).Layers[0].Arguments["in_features"]);
    }

    [Fact]
    public void Families_RefuseInputsTheyCannotTake()
    {
        Assert.Equal("cnn: layers[11] (MaxPool2d): input (128, 1, 1) is too small for kernel_size 2 with padding 0: the output would be 0 x 0; " +
                     "height and width must be at least 2 (use a larger input or fewer pooling layers)",
            Assert.Throws<InvalidDataException>(() => NetworkFamilies.Cnn([32, 64, 128]).Build([3, 5, 5], 10, new Rng(1))).Message);
        Assert.Equal("mlp: layers[0] (Linear): expected input of 1 dimension (features), got (3, 32, 32); add a Flatten before it",
            Assert.Throws<InvalidDataException>(() => NetworkFamilies.Mlp([256, 128]).Build([3, 32, 32], 10, new Rng(1))).Message);
        Assert.StartsWith("cnn: layers[0] (Conv2d): expected input of 3 dimensions (channels, height, width), got (784,)",
            Assert.Throws<InvalidDataException>(() => NetworkFamilies.Cnn().OutputShape([784], 10)).Message);
        Assert.Throws<ArgumentException>(() => NetworkFamilies.Mlp([10], "gelu"));
        Assert.Throws<ArgumentOutOfRangeException>(() => NetworkFamilies.Cnn([32, 0]));
    }

    [Fact]
    public void ALinearOnAnImage_SaysToFlattenFirst()
    {
        var e = Fails("""
            {"layers": [{"type": "Conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
            {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Linear", "out_features": 10}]}
            """, [1, 14, 14]);
        Assert.Equal("net.json: layers[3] (Linear): expected input of 1 dimension (features), got (64, 7, 7); add a Flatten before it", e.Message);
    }

    [Theory]
    [InlineData("""{"type": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3}""", new[] { 1, 8, 8 },
        "net.json: layers[0] (Conv2d): in_channels is 3, but its input (1, 8, 8) has 1 channels")]
    [InlineData("""{"type": "Linear", "in_features": 100, "out_features": 10}""", new[] { 784 },
        "net.json: layers[0] (Linear): in_features is 100, but its input (784,) has 784 features")]
    [InlineData("""{"type": "BatchNorm2d", "num_features": 16}""", new[] { 8, 4, 4 },
        "net.json: layers[0] (BatchNorm2d): num_features is 16, but its input (8, 4, 4) has 8 channels")]
    [InlineData("""{"type": "BatchNorm2d"}""", new[] { 8 }, "net.json: layers[0] (BatchNorm2d): expected input of 3 dimensions (channels, height, width), got (8,)")]
    [InlineData("""{"type": "BatchNorm1d"}""", new[] { 8, 4, 4 },
        "net.json: layers[0] (BatchNorm1d): expected input of 1 or 2 dimensions (features) or (channels, length), got (8, 4, 4)")]
    [InlineData("""{"type": "BatchNorm3d"}""", new[] { 8, 4, 4 }, "net.json: layers[0] (BatchNorm3d): expected input of 4 dimensions (channels, depth, height, width), got (8, 4, 4)")]
    [InlineData("""{"type": "GlobalAvgPool2d"}""", new[] { 10 }, "net.json: layers[0] (GlobalAvgPool2d): expected input of 3 dimensions (channels, height, width), got (10,)")]
    [InlineData("""{"type": "Conv2d", "out_channels": 8, "kernel_size": 5}""", new[] { 1, 3, 9 },
        "net.json: layers[0] (Conv2d): input (1, 3, 9) is too small for kernel_size 5 with padding 0: the output would be 0 x 5; height and width must be at least 5")]
    [InlineData("""{"type": "AvgPool2d", "kernel_size": 2, "padding": 2}""", new[] { 1, 8, 8 },
        "net.json: layers[0] (AvgPool2d): padding is 2, but it must be at most half of kernel_size 2 (1)")]
    public void ALayerThatDoesNotFitItsInput_IsNamedWithTheShapes(string layer, int[] inputShape, string expected)
    {
        var e = Fails($$"""{"layers": [{{layer}}, {"type": "Flatten"}, {"type": "Linear", "out_features": "$outputs"}]}""", inputShape);
        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public void AResidualWhoseBodyChangesTheShape_NeedsAShortcut()
    {
        var e = Fails("""
            {"layers": [{"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1},
            {"type": "Residual", "body": [{"type": "Conv2d", "out_channels": 32, "kernel_size": 3, "stride": 2, "padding": 1}]},
            {"type": "GlobalAvgPool2d"}, {"type": "Linear", "out_features": "$outputs"}]}
            """, [3, 28, 28]);
        Assert.Equal("net.json: layers[1] (Residual): the body's output (32, 14, 14) differs from its input (the identity shortcut) (16, 28, 28); " +
                     "the two are added, so give a shortcut that maps the input to the body's output shape", e.Message);
        var nested = Fails("""
            {"layers": [{"type": "Residual", "body": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}],
            "shortcut": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 1, "stride": 2}]}, {"type": "Flatten"}, {"type": "Linear", "out_features": 2}]}
            """, [3, 8, 8], 2);
        Assert.StartsWith("net.json: layers[0] (Residual): the body's output (4, 8, 8) differs from the shortcut's output (4, 4, 4)", nested.Message);
        var inside = Fails("""{"layers": [{"type": "Residual", "body": [{"type": "ReLU"}, {"type": "Linear", "out_features": 4}]}]}""", [3, 8, 8], 2);
        Assert.StartsWith("net.json: layers[0].body[1] (Linear): expected input of 1 dimension (features), got (3, 8, 8)", inside.Message);
    }

    [Theory]
    [InlineData("""{"type": "Linear", "out_features": 128}""", "net.json: the network's output per sample is (128,), expected (10,) for the data's 10 outputs; " +
        "end with a layer that gives them, e.g. {\"type\": \"Linear\", \"out_features\": \"$outputs\"}")]
    [InlineData("""{"type": "Sigmoid"}, {"type": "Linear", "out_features": 12}""", "net.json: the network's output per sample is (12,), expected (10,)")]
    public void AnOutputThatIsNotTheDatasOutputs_IsAnError(string last, string expected)
    {
        var e = Fails($$"""{"layers": [{"type": "Linear", "out_features": 128}, {{last}}]}""", [784]);
        Assert.StartsWith(expected, e.Message);
        var image = Fails("""{"layers": [{"type": "Conv2d", "out_channels": "$outputs", "kernel_size": 1}]}""", [3, 4, 4]);
        Assert.StartsWith("net.json: the network's output per sample is (10, 4, 4), expected (10,)", image.Message);
    }

    [Fact]
    public void OutputShape_InfersWithoutCheckingTheEnd_AndBadArgumentsThrow()
    {
        var spec = NetworkSpec.Parse("""{"layers": [{"type": "Conv2d", "out_channels": "$outputs", "kernel_size": 3, "stride": 2}]}""", "net.json");
        Assert.Equal([5, 15, 11], spec.OutputShape([3, 32, 23], 5));
        Assert.Throws<ArgumentException>(() => spec.OutputShape([], 5));
        Assert.Throws<ArgumentException>(() => spec.OutputShape([3, 0, 4], 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => spec.OutputShape([3, 4, 4], 0));
        Assert.Throws<ArgumentNullException>(() => spec.Build([3, 4, 4], 5, null!));
    }

    [Fact]
    public void AFullyConvolutionalNetwork_EndsInOutputsThroughGlobalPooling()
    {
        var spec = NetworkSpec.Parse("""{"layers": [{"type": "Conv2d", "out_channels": "$outputs", "kernel_size": 3}, {"type": "GlobalAvgPool2d"}]}""", "fcn.json");
        var model = spec.Build([2, 9, 9], 6, new Rng(1));
        Assert.Equal(6, ((Conv2d)model[0]).OutChannels);
    }
}
