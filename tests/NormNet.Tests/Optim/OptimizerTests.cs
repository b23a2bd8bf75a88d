using System.Text.Json;
using NormNet.Layers;
using NormNet.Optim;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Optim;

/// <summary>SGD, Adam and AdamW replayed against PyTorch's recorded parameter trajectories, and schedules.</summary>
public class OptimizerTests
{
    private static readonly NormNet.Serialization.SafeTensorsFile Golden = LoadGolden("optim_golden.safetensors");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in JsonDocument.Parse(Golden.Metadata["cases"]).RootElement.EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var c = JsonDocument.Parse(Golden.Metadata["cases"]).RootElement.EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        double Get(string key, double fallback) => c.TryGetProperty(key, out var v) ? v.GetDouble() : fallback;
        var p = new Parameter(Golden["p0"].ToTensor());
        var named = new[] { ("p", p) };
        string kind = c.GetProperty("kind").GetString()!;
        double[] betas = c.TryGetProperty("betas", out var b) ? b.EnumerateArray().Select(e => e.GetDouble()).ToArray() : [0.9, 0.999];
        Optimizer opt = kind switch
        {
            "sgd" => new Sgd(named, Get("lr", 0), Get("momentum", 0), Get("dampening", 0), Get("weight_decay", 0),
                c.TryGetProperty("nesterov", out var n) && n.GetBoolean()),
            "adam" => new Adam(named, Get("lr", 0), betas[0], betas[1], Get("eps", 1e-8), Get("weight_decay", 0)),
            _ => new AdamW(named, Get("lr", 0), betas[0], betas[1], Get("eps", 1e-8), Get("weight_decay", 1e-2)),
        };
        int steps = int.Parse(Golden.Metadata["steps"]);
        for (int t = 0; t < steps; t++)
        {
            opt.ZeroGrad();
            Golden[$"grad{t}"].ToFloat32().CopyTo(p.Grad.Span);
            opt.Step();
            AssertClose(Golden[$"{name}.step{t}"].ToFloat32(), p.Value.ReadOnlySpan, 2e-6, $"{name} step {t}", floor: 1);
        }
    }

    [Fact]
    public void WeightDecayExclusion_SkipsBiasAndNormParameters()
    {
        var w = new Parameter(Tensor.Full(1f, 3), ParameterRole.Weight);
        var bias = new Parameter(Tensor.Full(1f, 3), ParameterRole.Bias);
        var gamma = new Parameter(Tensor.Full(1f, 3), ParameterRole.NormWeight);
        var opt = new Sgd([("w", w), ("b", bias), ("g", gamma)], 0.1, weightDecay: 0.5) { ExcludeNormAndBiasFromWeightDecay = true };
        opt.Step(); // zero gradients: only decay moves parameters
        Assert.Equal(0.95f, w.Value[0], 6);
        Assert.Equal(1f, bias.Value[0]);
        Assert.Equal(1f, gamma.Value[0]);
    }

    [Fact]
    public void Schedules_FollowTheirFormulas()
    {
        Assert.Equal(0.1 * 0.01, new StepSchedule(0.1, 10, 0.1).At(25), 12);
        var cos = new CosineSchedule(1.0, 100, 0.1);
        Assert.Equal(1.0, cos.At(0), 12);
        Assert.Equal(0.55, cos.At(50), 12);
        Assert.Equal(0.1, cos.At(100), 12);
        Assert.Equal(0.1, cos.At(500), 12);
        var warm = new WarmupSchedule(new ConstantSchedule(0.4), 4);
        Assert.Equal([0.1, 0.2, 0.3, 0.4, 0.4], Enumerable.Range(0, 5).Select(s => Math.Round(warm.At(s), 12)));
    }

    [Fact]
    public void BadArguments_Throw()
    {
        var p = new[] { ("p", new Parameter(Tensor.Zeros(2))) };
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(p, -1));
        Assert.Throws<ArgumentException>(() => new Sgd(p, 0.1, nesterov: true));
        Assert.Throws<ArgumentException>(() => new Sgd([], 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(p, beta1: 1.0));
    }
}
