using NormNet.Kernels;
using NormNet.Layers;
using NormNet.Losses;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>Sequential, Residual, Flatten and Dropout, and a whole small network checked end to end.</summary>
public class ContainerTests
{
    private static Tensor RandomTensor(int seed, params int[] shape) =>
        Tensor.FromArray(RandomNormal(shape.Aggregate(1, (a, b) => a * b), seed), shape);

    [Fact]
    public void Sequential_NamesChildrenLikePyTorch()
    {
        var model = new Sequential(new Linear(4, 3, rng: new Rng(1)), new BatchNorm1d(3), new ReLU(), new Linear(3, 2, rng: new Rng(2)));
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"], model.NamedParameters().Select(p => p.Name));
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked", "3.weight", "3.bias"],
            model.StateEntries().Select(e => e.Name));
        model.Eval();
        Assert.All(model.NamedModules(), m => Assert.False(m.Module.Training));
    }

    [Fact]
    public void WithoutInputGradient_FirstLayerSkipsIt_ButParameterGradientsAreUnchanged()
    {
        Sequential Build() => new(new Conv2d(2, 3, 3, padding: 1, rng: new Rng(1)), new ReLU(), new Flatten(), new Linear(3 * 16, 4, rng: new Rng(2)));
        var x = RandomTensor(20, 2, 2, 4, 4);
        var g = RandomTensor(21, 2, 4);
        var full = Build();
        full.Forward(x);
        var dxFull = full.Backward(g);
        var lean = Build();
        lean.RequiresInputGradient = false;
        Assert.False(lean[0].RequiresInputGradient);
        Assert.True(lean[3].RequiresInputGradient);
        lean.Forward(x);
        var dx = lean.Backward(g);
        Assert.All(dx.ToArray(), v => Assert.Equal(0f, v));
        Assert.Contains(dxFull.ToArray(), v => v != 0);
        Assert.Equal(full.Parameters().Select(p => p.Grad.ToArray()), lean.Parameters().Select(p => p.Grad.ToArray()));
        var first = new Linear(3, 2, rng: new Rng(3));
        var seq = new Sequential { RequiresInputGradient = false }.Add(first);
        Assert.False(first.RequiresInputGradient);
    }

    [Fact]
    public void Residual_AddsIdentityGradient()
    {
        var lin = new Linear(4, 4, rng: new Rng(3));
        var block = new Residual(new Sequential(lin, new Tanh()));
        var x = RandomTensor(4, 5, 4);
        var g = RandomTensor(5, 5, 4);
        var y = block.Forward(x);
        var dx = block.Backward(g);
        var w = ToDouble(lin.Weight.Value.ReadOnlySpan);
        var b = ToDouble(lin.Bias!.Value.ReadOnlySpan);
        var z = new double[20];
        LayerReference.LinearForward(ToDouble(x.ReadOnlySpan), w, b, 5, 4, 4, z);
        // y = tanh(z) + x ; dx = ((1 - tanh^2(z)) * g) W + g
        var ry = z.Select((v, i) => Math.Tanh(v) + x.ReadOnlySpan[i]).ToArray();
        AssertClose(ry, y.ReadOnlySpan, 1e-6, "residual y");
        var gz = z.Select((v, i) => (1 - Math.Tanh(v) * Math.Tanh(v)) * g.ReadOnlySpan[i]).ToArray();
        var rdx = new double[20];
        LayerReference.LinearBackward(gz, ToDouble(x.ReadOnlySpan), w, 5, 4, 4, rdx, new double[16], new double[4]);
        for (int i = 0; i < 20; i++) rdx[i] += g.ReadOnlySpan[i];
        AssertClose(rdx, dx.ReadOnlySpan, 1e-5, "residual dx");
        Assert.Throws<ArgumentException>(() => new Residual(new Linear(4, 3, rng: new Rng(1))).Forward(x));
    }

    [Fact]
    public void Flatten_IsAViewAndRestoresTheShape()
    {
        var f = new Flatten();
        var x = RandomTensor(6, 2, 3, 4, 5);
        var y = f.Forward(x);
        Assert.Equal([2, 60], y.Shape);
        y[1, 7] = 42f;
        Assert.Equal(42f, x.ReadOnlySpan[67]);
        Assert.Same(y, f.Forward(x));
        Assert.Equal([2, 3, 4, 5], f.Backward(RandomTensor(7, 2, 60)).Shape);
    }

    [Fact]
    public void Dropout_ScalesKeptUnits_AndIsIdentityInEval()
    {
        var d = new Dropout(0.25, new Rng(8));
        var x = Tensor.Full(1f, 100, 100);
        var y = d.Forward(x);
        int kept = y.ToArray().Count(v => v != 0);
        Assert.InRange(kept / 10000.0, 0.73, 0.77);
        Assert.All(y.ToArray(), v => Assert.True(v == 0 || Math.Abs(v - 1 / 0.75f) < 1e-6));
        var g = RandomTensor(9, 100, 100);
        var dx = d.Backward(g);
        for (int i = 0; i < 10000; i++) Assert.Equal(y.ReadOnlySpan[i] == 0 ? 0f : g.ReadOnlySpan[i] * (1 / 0.75f), dx.ReadOnlySpan[i]);
        d.Eval();
        Assert.Same(x, d.Forward(x));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1.0));
        Assert.Equal(["generator"], d.NamedGenerators().Select(n => n.Name));
    }

    [Fact]
    public void SmallResNetWithBatchNorm_GradientMatchesFiniteDifferences()
    {
        // float network: finite differences with h = 1e-2 in float, loss accumulated in double; a check of the wiring
        var rng = new Rng(10);
        var model = new Sequential(
            new Conv2d(1, 4, 3, padding: 1, rng: rng), new BatchNorm2d(4), new ReLU(),
            new Residual(new Sequential(new Conv2d(4, 4, 3, padding: 1, rng: rng), new BatchNorm2d(4))), new Tanh(),
            new MaxPool2d(2), new Flatten(), new Linear(4 * 3 * 3, 5, rng: rng), new BatchNorm1d(5), new Sigmoid(), new Linear(5, 3, rng: rng));
        var x = RandomTensor(11, 4, 1, 6, 6);
        int[] labels = [0, 2, 1, 2];
        var ce = new CrossEntropyLoss();
        double Loss()
        {
            var saved = model.StateEntries().Where(e => e.Tensor is not null && e.Name.Contains("running")).Select(e => e.Tensor!.ToArray()).ToList();
            double l = ce.Forward(model.Forward(x), labels);
            int k = 0; // running statistics must not drift between the evaluations
            foreach (var e in model.StateEntries().Where(e => e.Tensor is not null && e.Name.Contains("running"))) saved[k++].CopyTo(e.Tensor!.Span);
            return l;
        }
        Loss();
        model.ZeroGrad();
        var dx = model.Backward(ce.Backward()).ToArray();
        var first = (Linear)model[7];
        var analytic = first.Weight.Grad.ToArray();
        const float h = 1e-2f;
        foreach (int i in new[] { 0, 7, 33, 101, 179 })
        {
            float saved = first.Weight.Value[i / 36, i % 36];
            first.Weight.Value[i / 36, i % 36] = saved + h;
            double up = Loss();
            first.Weight.Value[i / 36, i % 36] = saved - h;
            double down = Loss();
            first.Weight.Value[i / 36, i % 36] = saved;
            double numeric = (up - down) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic[i]) < 2e-3 + 0.05 * Math.Abs(numeric), $"dW[{i}]: numeric {numeric}, analytic {analytic[i]}");
        }
        foreach (int i in new[] { 3, 40, 77, 120 })
        {
            float saved = x.Span[i];
            x.Span[i] = saved + h;
            double up = Loss();
            x.Span[i] = saved - h;
            double down = Loss();
            x.Span[i] = saved;
            double numeric = (up - down) / (2 * h);
            Assert.True(Math.Abs(numeric - dx[i]) < 2e-3 + 0.05 * Math.Abs(numeric), $"dx[{i}]: numeric {numeric}, analytic {dx[i]}");
        }
        Assert.True(dx.Max(Math.Abs) > 1e-3, "the input gradient is trivially small");
    }
}
