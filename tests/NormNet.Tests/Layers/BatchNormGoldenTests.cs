using System.Text.Json;
using NormNet.Layers;
using NormNet.Serialization;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>
/// BatchNorm1d/2d/3d against PyTorch's recorded outputs (tools/golden/make_bn_golden.py): three training steps
/// and an eval step per case, comparing outputs, input and parameter gradients, and running statistics.
/// </summary>
public class BatchNormGoldenTests
{
    private static readonly SafeTensorsFile Golden = LoadGolden("bn_golden.safetensors");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in CaseList()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    private static List<JsonElement> CaseList()
    {
        Assert.Equal("normnet-bn-golden", Golden.Metadata["format"]);
        Assert.Equal("1", Golden.Metadata["version"]);
        return JsonDocument.Parse(Golden.Metadata["cases"]).RootElement.EnumerateArray().ToList();
    }

    private static BatchNormBase Build(JsonElement c, bool channelsLast)
    {
        int features = c.GetProperty("shape")[1].GetInt32();
        double eps = c.TryGetProperty("eps", out var e) ? e.GetDouble() : 1e-5;
        double? momentum = c.TryGetProperty("momentum", out var m) ? (m.ValueKind == JsonValueKind.Null ? null : m.GetDouble()) : 0.1;
        bool affine = !c.TryGetProperty("affine", out var a) || a.GetBoolean();
        bool track = !c.TryGetProperty("track", out var t) || t.GetBoolean();
        return c.GetProperty("layer").GetString() switch
        {
            "1d" => new BatchNorm1d(features, eps, momentum, affine, track),
            "2d" => new BatchNorm2d(features, eps, momentum, affine, track, channelsLast ? MemoryFormat.ChannelsLast : MemoryFormat.ChannelsFirst),
            _ => new BatchNorm3d(features, eps, momentum, affine, track),
        };
    }

    [Theory, MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name) => Run(name, channelsLast: false);

    [Theory, MemberData(nameof(Cases))]
    public void MatchesPyTorch_ChannelsLast(string name)
    {
        var c = CaseList().Single(e => e.GetProperty("name").GetString() == name);
        if (c.GetProperty("layer").GetString() != "2d") return; // channels-last is a 4-D image layout
        Run(name, channelsLast: true);
    }

    private static void Run(string name, bool channelsLast)
    {
        var c = CaseList().Single(e => e.GetProperty("name").GetString() == name);
        var shape = c.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
        var bn = Build(c, channelsLast);
        if (bn.Affine)
        {
            bn.Weight!.Value.CopyFrom(Golden[$"{name}.weight0"].ToTensor());
            bn.Bias!.Value.CopyFrom(Golden[$"{name}.bias0"].ToTensor());
        }
        int steps = int.Parse(Golden.Metadata["steps"]);
        for (int t = 0; t < steps; t++) Step(bn, name, $"step{t}", shape, channelsLast);
        if (bn.TrackRunningStats)
        {
            AssertClose(Golden[$"{name}.running_mean"].ToFloat32(), bn.RunningMean!.ReadOnlySpan, 1e-6, $"{name} running_mean", floor: 1e-3);
            AssertClose(Golden[$"{name}.running_var"].ToFloat32(), bn.RunningVar!.ReadOnlySpan, 1e-6, $"{name} running_var", floor: 1e-3);
            Assert.Equal(Golden[$"{name}.num_batches_tracked"].ToInt64()[0], bn.NumBatchesTracked);
        }
        bn.Eval();
        Step(bn, name, "eval", shape, channelsLast);
    }

    private static void Step(BatchNormBase bn, string name, string tag, int[] shape, bool channelsLast)
    {
        float[] Get(string what)
        {
            var v = Golden[$"{name}.{tag}.{what}"].ToFloat32();
            return channelsLast ? ToChannelsLast(v, shape[0], shape[1], shape[2], shape[3]) : v;
        }
        int[] dims = channelsLast ? [shape[0], shape[2], shape[3], shape[1]] : shape;
        bn.ZeroGrad();
        var y = bn.Forward(Tensor.FromArray(Get("x"), dims));
        AssertClose(Get("y"), y.ReadOnlySpan, 1e-5, $"{name} {tag} y");
        var dx = bn.Backward(Tensor.FromArray(Get("g"), dims));
        AssertClose(Get("dx"), dx.ReadOnlySpan, 1e-5, $"{name} {tag} dx");
        if (bn.Affine)
        {
            AssertClose(Golden[$"{name}.{tag}.dweight"].ToFloat32(), bn.Weight!.Grad.ReadOnlySpan, 1e-5, $"{name} {tag} dweight");
            AssertClose(Golden[$"{name}.{tag}.dbias"].ToFloat32(), bn.Bias!.Grad.ReadOnlySpan, 1e-5, $"{name} {tag} dbias");
        }
    }
}
