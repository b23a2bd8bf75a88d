using NormNet.Layers;
using NormNet.Models;

namespace NormNet.Tests.Models;

/// <summary>Reading network descriptions: every layer type with its arguments, the canonical JSON written back, and
/// one clear error per kind of mistake in the file.</summary>
public sealed class NetworkSpecParseTests
{
    /// <summary>Every layer type of the table, with non-default arguments, nested in a Sequential and a Residual.</summary>
    internal const string EveryLayer = """
        // comments and trailing commas are allowed in hand-written files
        {"version": 1, "layers": [
          {"type": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3, "stride": 1, "padding": 1, "bias": false},
          {"type": "BatchNorm2d", "eps": 0.001, "momentum": null, "affine": false},
          {"type": "ReLU"},
          {"type": "Residual", "body": [
            {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
            {"type": "Tanh"}
          ]},
          {"type": "Residual", "body": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 1, "stride": 2}],
                               "shortcut": [{"type": "AvgPool2d", "kernel_size": 1, "stride": 2}, {"type": "Conv2d", "out_channels": 4, "kernel_size": 1}]},
          {"type": "MaxPool2d", "kernel_size": 3, "stride": 1, "padding": 1},
          {"type": "AvgPool2d", "kernel_size": 2},
          {"type": "Sequential", "layers": [{"type": "Flatten"}, {"type": "Dropout", "p": 0.25}]},
          {"type": "Linear", "out_features": 6, "bias": false},
          {"type": "BatchNorm1d", "num_features": 6, "momentum": 0.01, "track_running_stats": false},
          {"type": "Sigmoid"},
          {"type": "Linear", "in_features": 6, "out_features": "$outputs"},
        ]}
        """;

    private static InvalidDataException Fails(string json, Action<NetworkSpec>? use = null)
    {
        return Assert.Throws<InvalidDataException>(() =>
        {
            var spec = NetworkSpec.Parse(json, "net.json");
            use?.Invoke(spec);
        });
    }

    [Fact]
    public void EveryLayerType_IsReadWithItsArguments()
    {
        var spec = NetworkSpec.Parse(EveryLayer, "net.json");
        Assert.Equal(["Conv2d", "BatchNorm2d", "ReLU", "Residual", "Residual", "MaxPool2d", "AvgPool2d", "Sequential", "Linear", "BatchNorm1d", "Sigmoid", "Linear"],
            spec.Layers.Select(l => l.Type));
        Assert.Equal(false, spec.Layers[0].Arguments["bias"]);
        Assert.Equal(3, spec.Layers[0].Arguments["in_channels"]);
        Assert.Null(spec.Layers[1].Arguments["momentum"]);
        Assert.Null(spec.Layers[1].Arguments["num_features"]); // to be inferred
        Assert.Equal(0.001, spec.Layers[1].Arguments["eps"]);
        Assert.Equal(1e-5, spec.Layers[9].Arguments["eps"]); // defaults are filled in
        Assert.Equal(true, spec.Layers[9].Arguments["affine"]);
        Assert.Equal(["body", "shortcut"], spec.Layers[3].Children.Keys.Order());
        Assert.Empty(spec.Layers[3].Children["shortcut"]);
        Assert.Equal(2, spec.Layers[4].Children["shortcut"].Count);
        Assert.Equal("Dropout", spec.Layers[7].Children["layers"][1].Type);
        Assert.Equal("$outputs", spec.Layers[11].Arguments["out_features"]);
        Assert.Contains("\"momentum\": null", spec.ToJson());
    }

    [Fact]
    public void EveryLayerType_BuildsTheModuleWithThoseArguments()
    {
        var model = NetworkSpec.Parse(EveryLayer, "net.json").Build([3, 8, 8], 5, new Rng(1));
        var conv = Assert.IsType<Conv2d>(model[0]);
        Assert.Equal((3, 8, 3, 1, 1, true), (conv.InChannels, conv.OutChannels, conv.KernelSize, conv.Stride, conv.Padding, conv.Bias is null));
        var bn = Assert.IsType<BatchNorm2d>(model[1]);
        Assert.Equal((8, 0.001, (double?)null, false, true), (bn.NumFeatures, bn.Eps, bn.Momentum, bn.Affine, bn.TrackRunningStats));
        Assert.IsType<ReLU>(model[2]);
        var identity = Assert.IsType<Residual>(model[3]);
        Assert.Null(identity.Shortcut);
        Assert.IsType<Tanh>(((Sequential)identity.Body)[1]);
        var projected = Assert.IsType<Residual>(model[4]);
        Assert.Equal(2, ((AvgPool2d)((Sequential)projected.Shortcut!)[0]).Stride);
        var max = Assert.IsType<MaxPool2d>(model[5]);
        Assert.Equal((3, 1, 1), (max.KernelSize, max.Stride, max.Padding));
        Assert.Equal(2, Assert.IsType<AvgPool2d>(model[6]).Stride);
        Assert.Equal(0.25, Assert.IsType<Dropout>(((Sequential)model[7])[1]).P);
        var linear = Assert.IsType<Linear>(model[8]);
        Assert.Equal((4 * 2 * 2, 6, true), (linear.InFeatures, linear.OutFeatures, linear.Bias is null));
        var bn1 = Assert.IsType<BatchNorm1d>(model[9]);
        Assert.Equal((6, (double?)0.01, false), (bn1.NumFeatures, bn1.Momentum, bn1.TrackRunningStats));
        Assert.IsType<Sigmoid>(model[10]);
        Assert.Equal((6, 5), (((Linear)model[11]).InFeatures, ((Linear)model[11]).OutFeatures));
        var y = model.Forward(Tensor.FromArray(TestUtil.RandomNormal(2 * 3 * 8 * 8, 3), 2, 3, 8, 8));
        Assert.Equal([2, 5], y.Shape);
    }

    [Fact]
    public void ToJson_ParsesBackToAnEqualSpec_AndLeavesDefaultsOut()
    {
        var spec = NetworkSpec.Parse(EveryLayer, "net.json");
        string json = spec.ToJson();
        Assert.Equal(spec, NetworkSpec.Parse(json, "again.json"));
        // the first Conv2d's "stride": 1 is the default, so it is left out
        Assert.Contains("{\"type\": \"Conv2d\", \"in_channels\": 3, \"out_channels\": 8, \"kernel_size\": 3, \"padding\": 1, \"bias\": false}", json);
        Assert.StartsWith("{\n  \"version\": 1,\n  \"layers\": [", json);
        Assert.NotEqual(spec, NetworkSpec.Parse(json.Replace("\"p\": 0.25", "\"p\": 0.3", StringComparison.Ordinal), "other.json"));
    }

    [Theory]
    [InlineData("""{"layers": [{"type": "ReLU"}, {"type": "Conv3d"}]}""", "net.json: layers[1]: unknown layer type 'Conv3d'; expected one of: Linear, Conv2d, BatchNorm1d")]
    [InlineData("""{"layers": [{"type": "relu"}]}""", "net.json: layers[0]: unknown layer type 'relu' (did you mean 'ReLU'?)")]
    [InlineData("""{"layers": [{"type": "Conv2d", "out_channels": 8, "kernel": 3}]}""",
        "net.json: layers[0] (Conv2d): unknown argument 'kernel'; expected one of: in_channels, out_channels, kernel_size, stride, padding, bias")]
    [InlineData("""{"layers": [{"type": "Linear", "outFeatures": 3}]}""", "net.json: layers[0] (Linear): unknown argument 'outFeatures' (did you mean 'out_features'?)")]
    [InlineData("""{"layers": [{"type": "ReLU", "inplace": true}]}""", "net.json: layers[0] (ReLU): unknown argument 'inplace'; ReLU takes no arguments")]
    [InlineData("""{"layers": [{"type": "Conv2d", "out_channels": 8, "kernel_size": "3"}]}""",
        "net.json: layers[0] (Conv2d): argument 'kernel_size' expected an integer >= 1, got \"3\"")]
    [InlineData("""{"layers": [{"type": "Conv2d", "out_channels": 8, "kernel_size": 2.5}]}""", "argument 'kernel_size' expected an integer >= 1, got 2.5")]
    [InlineData("""{"layers": [{"type": "Conv2d", "out_channels": 0, "kernel_size": 3}]}""", "argument 'out_channels' expected an integer >= 1 or \"$outputs\", got 0")]
    [InlineData("""{"layers": [{"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": -1}]}""", "argument 'padding' expected an integer >= 0, got -1")]
    [InlineData("""{"layers": [{"type": "Linear", "out_features": "$classes"}]}""", "argument 'out_features' expected an integer >= 1 or \"$outputs\", got \"$classes\"")]
    [InlineData("""{"layers": [{"type": "Linear", "out_features": 3, "bias": "no"}]}""", "argument 'bias' expected true or false, got \"no\"")]
    [InlineData("""{"layers": [{"type": "BatchNorm1d", "momentum": 1.5}]}""", "net.json: layers[0] (BatchNorm1d): argument 'momentum' expected a number in [0, 1] or null, got 1.5")]
    [InlineData("""{"layers": [{"type": "BatchNorm1d", "eps": -1e-5}]}""", "argument 'eps' expected a number >= 0, got -1e-5")]
    [InlineData("""{"layers": [{"type": "BatchNorm1d", "num_features": null}]}""", "argument 'num_features' expected an integer >= 1, got null")]
    [InlineData("""{"layers": [{"type": "Dropout", "p": 1}]}""", "argument 'p' expected a number in [0, 1), got 1")]
    [InlineData("""{"layers": [{"type": "Linear"}]}""", "net.json: layers[0] (Linear): missing required argument 'out_features' (an integer >= 1 or \"$outputs\")")]
    [InlineData("""{"layers": [{"type": "MaxPool2d"}]}""", "net.json: layers[0] (MaxPool2d): missing required argument 'kernel_size' (an integer >= 1)")]
    [InlineData("""{"layers": [{"type": "Residual", "shortcut": []}]}""", "net.json: layers[0] (Residual): missing required 'body' (a list of layers)")]
    [InlineData("""{"layers": [{"type": "Residual", "body": {"type": "ReLU"}}]}""", "net.json: layers[0] (Residual): 'body': expected a list of layers [...], got an object")]
    [InlineData("""{"layers": [{"type": "ReLU"}, {"type": "Residual", "body": [{"type": "Conv2d", "kernel_size": 3}]}]}""",
        "net.json: layers[1].body[0] (Conv2d): missing required argument 'out_channels'")]
    [InlineData("""{"layers": [{"type": "Sequential", "layers": [{"type": "ReLU"}, {"type": "Sigmoid", "x": 1}]}]}""",
        "net.json: layers[0].layers[1] (Sigmoid): unknown argument 'x'")]
    [InlineData("""{"layers": [{"type": "Linear", "out_features": 3, "out_features": 4}]}""", "net.json: layers[0] (Linear): 'out_features' is given twice")]
    [InlineData("""{"layers": [{"out_features": 3}]}""", "net.json: layers[0]: missing \"type\"; expected one of: Linear")]
    [InlineData("""{"layers": [{"type": 3}]}""", "net.json: layers[0]: expected \"type\" to be a string, got 3")]
    [InlineData("""{"layers": [3]}""", "net.json: layers[0]: expected a layer {\"type\": ...}, got the number 3")]
    [InlineData("""{"layers": {"type": "ReLU"}}""", "net.json: \"layers\": expected a list of layers [...], got an object")]
    [InlineData("""[{"type": "ReLU"}]""", "net.json: expected a JSON object {\"layers\": [...]}, got a list")]
    [InlineData("""{"version": 2, "layers": []}""", "net.json: expected \"version\": 1, got 2")]
    [InlineData("""{"layer": []}""", "net.json: unknown key 'layer' at the top level; expected \"layers\" (and optionally \"version\")")]
    [InlineData("""{"version": 1}""", "net.json: missing \"layers\", the list of layers")]
    [InlineData("{\"layers\": [\n  {\"type\": \"ReLU\"}\n  {\"type\": \"Tanh\"}]}", "net.json: line 3, position 3: invalid JSON:")]
    public void AMistakeInTheFile_IsOneLineNamingTheFileAndTheLayer(string json, string expected)
    {
        var e = Fails(json);
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("net.json: ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Load_NamesThePath_AndSaveWritesWhatLoadReads()
    {
        string dir = Directory.CreateTempSubdirectory("normnet-spec-").FullName;
        try
        {
            string path = Path.Combine(dir, "net.json");
            File.WriteAllText(path, """{"layers": [{"type": "Linear", "out_features": "$outputs", "bias": 1}]}""");
            Assert.StartsWith($"{path}: layers[0] (Linear): argument 'bias' expected true or false, got 1",
                Assert.Throws<InvalidDataException>(() => NetworkSpec.Load(path)).Message);
            var spec = NetworkFamilies.Cnn();
            spec.Save(path);
            var loaded = NetworkSpec.Load(path);
            Assert.Equal(spec, loaded);
            Assert.Equal(path, loaded.Source);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
