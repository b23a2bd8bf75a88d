using System.Text.Json;
using NormNet.Layers;
using NormNet.Serialization;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>
/// GroupNorm, LayerNorm and InstanceNorm1d/2d against PyTorch's recorded outputs (tools/golden/make_norm_golden.py):
/// three training steps and an eval step per case, comparing outputs, input gradients (random upstream gradient),
/// weight and bias gradients, and the running statistics of instance norm with tracking.
/// </summary>
public class NormGoldenTests
{
    private static readonly SafeTensorsFile Golden = LoadGolden("norm_golden.safetensors");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in CaseList()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    private static List<JsonElement> CaseList()
    {
        Assert.Equal("normnet-norm-golden", Golden.Metadata["format"]);
        Assert.Equal("1", Golden.Metadata["version"]);
        return JsonDocument.Parse(Golden.Metadata["cases"]).RootElement.EnumerateArray().ToList();
    }

    private static int[] Ints(JsonElement c, string key) => c.GetProperty(key).EnumerateArray().Select(d => d.GetInt32()).ToArray();

    private static Module Build(JsonElement c, int[] shape)
    {
        double eps = c.TryGetProperty("eps", out var e) ? e.GetDouble() : 1e-5;
        bool Flag(string key, bool fallback) => c.TryGetProperty(key, out var v) ? v.GetBoolean() : fallback;
        string layer = c.GetProperty("layer").GetString()!;
        int channels = layer == "instance1d" && shape.Length == 2 ? shape[0] : shape[1];
        double momentum = c.TryGetProperty("momentum", out var m) ? m.GetDouble() : 0.1;
        return layer switch
        {
            "group" => new GroupNorm(c.GetProperty("groups").GetInt32(), channels, eps, Flag("affine", true)),
            "layer" => new LayerNorm(Ints(c, "normalized"), eps, Flag("affine", true), Flag("bias", true)),
            "instance1d" => new InstanceNorm1d(channels, eps, momentum, Flag("affine", false), Flag("track", false)),
            _ => new InstanceNorm2d(channels, eps, momentum, Flag("affine", false), Flag("track", false)),
        };
    }

    [Theory, MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var c = CaseList().Single(e => e.GetProperty("name").GetString() == name);
        var shape = Ints(c, "shape");
        var layer = Build(c, shape);
        var parameters = layer.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        if (parameters.TryGetValue("weight", out var weight)) weight.Value.CopyFrom(Golden[$"{name}.weight0"].ToTensor());
        if (parameters.TryGetValue("bias", out var bias)) bias.Value.CopyFrom(Golden[$"{name}.bias0"].ToTensor());
        Assert.Equal(Golden.Contains($"{name}.weight0"), weight is not null);
        Assert.Equal(Golden.Contains($"{name}.bias0"), bias is not null);

        int steps = int.Parse(Golden.Metadata["steps"]);
        for (int t = 0; t < steps; t++) Step(layer, name, $"step{t}", shape, weight, bias);
        if (layer is InstanceNormBase { TrackRunningStats: true } norm)
        {
            AssertClose(Golden[$"{name}.running_mean"].ToFloat32(), norm.RunningMean!.ReadOnlySpan, 1e-6, $"{name} running_mean", floor: 1e-3);
            AssertClose(Golden[$"{name}.running_var"].ToFloat32(), norm.RunningVar!.ReadOnlySpan, 1e-6, $"{name} running_var", floor: 1e-3);
            var tracked = layer.StateEntries().Single(s => s.Name == "num_batches_tracked").Scalar!.Value;
            Assert.Equal(Golden[$"{name}.num_batches_tracked"].ToInt64()[0], tracked);
        }
        else
        {
            Assert.DoesNotContain(layer.StateEntries(), s => s.Name.StartsWith("running", StringComparison.Ordinal));
        }
        layer.Eval();
        Step(layer, name, "eval", shape, weight, bias);
    }

    private static void Step(Module layer, string name, string tag, int[] shape, Parameter? weight, Parameter? bias)
    {
        float[] Get(string what) => Golden[$"{name}.{tag}.{what}"].ToFloat32();
        layer.ZeroGrad();
        var y = layer.Forward(Tensor.FromArray(Get("x"), shape));
        AssertClose(Get("y"), y.ReadOnlySpan, 1e-5, $"{name} {tag} y");
        var dx = layer.Backward(Tensor.FromArray(Get("g"), shape));
        Assert.True(MaxAbs(Get("dx")) > 1e-2, $"{name} {tag}: PyTorch's input gradient is trivially small");
        AssertClose(Get("dx"), dx.ReadOnlySpan, 1e-5, $"{name} {tag} dx");
        if (weight is not null) AssertClose(Get("dweight"), weight.Grad.ReadOnlySpan, 1e-5, $"{name} {tag} dweight");
        if (bias is not null) AssertClose(Get("dbias"), bias.Grad.ReadOnlySpan, 1e-5, $"{name} {tag} dbias");
    }
}
