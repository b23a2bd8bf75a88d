using NormNet.Layers;
using NormNet.Losses;
using NormNet.Optim;
using NormNet.Serialization;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>Frozen batch norm for fine-tuning: <see cref="BatchNormFreezing.Freeze"/> and <see cref="FrozenBatchNorm2d"/>
/// keep statistics and affine unchanged through training steps and <see cref="Module.Train"/>, while the rest trains.</summary>
public class FrozenBatchNormTests
{
    private static Sequential Model(Module norm) => new(
        new Conv2d(2, 4, 3, padding: 1, rng: new Rng(1)), norm, new ReLU(), new Flatten(), new Linear(4 * 5 * 5, 3, rng: new Rng(2)));

    /// <summary>Runs SGD steps (with momentum and weight decay) on random data, calling Train() before each.</summary>
    private static void TrainSteps(Module model, int steps)
    {
        var sgd = new Sgd(model.NamedParameters(), 0.1, momentum: 0.9, weightDecay: 1e-2);
        var loss = new CrossEntropyLoss();
        for (int t = 0; t < steps; t++)
        {
            model.Train();
            sgd.ZeroGrad();
            var logits = model.Forward(Tensor.FromArray(RandomNormal(6 * 2 * 5 * 5, 100 + t, 1, 2), 6, 2, 5, 5));
            loss.Forward(logits, [0, 1, 2, 0, 1, 2]);
            model.Backward(loss.Backward());
            sgd.Step();
        }
    }

    private static float[][] Snapshot(Module m) => m.StateEntries().Where(e => e.Tensor is not null).Select(e => e.Tensor!.ToArray()).ToArray();

    [Fact]
    public void Freeze_KeepsEveryBatchNormUnchanged_ThroughTrainingAndTrain()
    {
        var bn = new BatchNorm2d(4);
        var model = Model(bn);
        RandomizeState(bn, 3);

        Assert.Equal(1, BatchNormFreezing.Freeze(model));
        var names = model.StateEntries().Select(e => e.Name).ToArray();
        Assert.DoesNotContain(model.NamedParameters(), p => p.Name.StartsWith("1.", StringComparison.Ordinal));
        var before = Snapshot(bn);
        var conv = model[0].NamedParameters().First().Parameter.Value.ToArray();
        TrainSteps(model, 3);

        Assert.True(bn.Training && bn.Frozen); // Train() does not unfreeze
        Assert.Equal(before, Snapshot(bn));
        Assert.Equal(0, bn.NumBatchesTracked);
        Assert.All(bn.Weight!.Grad.ToArray(), g => Assert.Equal(0f, g));
        Assert.NotEqual(conv, model[0].NamedParameters().First().Parameter.Value.ToArray()); // the rest trains
        Assert.Equal(names, model.StateEntries().Select(e => e.Name)); // same state dict names and order

        // in training mode the frozen layer computes its eval-mode function
        var probe = new BatchNorm2d(4);
        foreach (var ((_, a, _), (_, b, _)) in bn.StateEntries().Zip(probe.StateEntries()))
            if (a is not null) b!.CopyFrom(a);
        probe.Eval();
        var x = Tensor.FromArray(RandomNormal(2 * 4 * 5 * 5, 5), 2, 4, 5, 5);
        Assert.Equal(probe.Forward(x).ToArray(), bn.Forward(x).ToArray());

        Assert.Equal(1, BatchNormFreezing.Unfreeze(model));
        TrainSteps(model, 1);
        Assert.NotEqual(before, Snapshot(bn));
    }

    [Fact]
    public void Freeze_RefusesLayersWithoutRunningStatistics()
    {
        var model = Model(new BatchNorm2d(4, trackRunningStats: false));
        var e = Assert.Throws<InvalidOperationException>(() => BatchNormFreezing.Freeze(model));
        Assert.Contains("'1'", e.Message);
    }

    [Fact]
    public void FrozenBatchNorm2d_HasTorchvisionsBuffers_AndNeverChanges()
    {
        var frozen = new FrozenBatchNorm2d(4);
        Assert.Equal(1e-5, frozen.Eps);
        Assert.Equal(["weight", "bias", "running_mean", "running_var"], frozen.StateEntries().Select(e => e.Name));
        Assert.Empty(frozen.NamedParameters());
        var model = Model(frozen);
        RandomizeState(frozen, 6);
        var before = Snapshot(frozen);

        // y = (x - mean) / sqrt(var + eps) * weight + bias; dx = dy * weight / sqrt(var + eps)
        var x = RandomNormal(2 * 4 * 3 * 3, 7);
        var dy = RandomNormal(x.Length, 8);
        var y = frozen.Forward(Tensor.FromArray(x, 2, 4, 3, 3)).ToArray();
        var dx = frozen.Backward(Tensor.FromArray(dy, 2, 4, 3, 3)).ToArray();
        for (int i = 0; i < x.Length; i++)
        {
            int c = i / 9 % 4;
            double scale = frozen.Weight[c] / Math.Sqrt(frozen.RunningVar[c] + 1e-5);
            Assert.Equal((x[i] - frozen.RunningMean[c]) * scale + frozen.Bias[c], y[i], 1e-5);
            Assert.Equal(dy[i] * scale, dx[i], 1e-5);
        }
        TrainSteps(model, 3);
        Assert.True(frozen.Training);
        Assert.Equal(before, Snapshot(frozen));
    }

    [Fact]
    public void FrozenBatchNorm2d_From_CopiesABatchNorm()
    {
        var bn = new BatchNorm2d(3, eps: 1e-3);
        RandomizeState(bn, 9);
        bn.Eval();
        var frozen = FrozenBatchNorm2d.From(bn);
        var x = Tensor.FromArray(RandomNormal(2 * 3 * 4 * 4, 10), 2, 3, 4, 4);
        Assert.Equal(bn.Forward(x).ToArray(), frozen.Forward(x).ToArray());
    }

    [Fact]
    public void FrozenModelState_LoadsIntoAnUnfrozenModel_AndBack()
    {
        var frozen = Model(new BatchNorm2d(4));
        RandomizeState(frozen, 11);
        BatchNormFreezing.Freeze(frozen);
        var plain = Model(new BatchNorm2d(4));
        ModelState.Load(plain, SafeTensors.Parse(SafeTensors.Serialize(ModelState.ToEntries(frozen)), "frozen"), "", strict: true, "frozen");
        Assert.Equal(Snapshot(frozen), Snapshot(plain));
        var torchvision = new Sequential(new Conv2d(2, 4, 3, padding: 1, rng: new Rng(5)), new FrozenBatchNorm2d(4));
        RandomizeState(plain, 12);
        var entries = ModelState.ToEntries(plain).Where(e => !e.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal) && !e.Name.StartsWith("4.", StringComparison.Ordinal));
        ModelState.Load(torchvision, SafeTensors.Parse(SafeTensors.Serialize(entries), "plain"), "", strict: true, "plain");
        Assert.Equal(Snapshot(plain).Take(6), Snapshot(torchvision));
    }
}
