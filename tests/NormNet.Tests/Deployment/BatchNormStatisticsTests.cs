using NormNet.Data;
using NormNet.Deployment;
using NormNet.Layers;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Deployment;

/// <summary>Population statistics (Algorithm 2): exact against an independent double computation, independent of
/// momentum, and leaving parameters, modes, dropout generators and the loader position as they were.</summary>
public sealed class BatchNormStatisticsTests
{
    private const int Count = 48, Side = 4, BatchSize = 12;

    /// <summary>48 random 4x4 "images"; batches of 12 partition them (4 batches per epoch).</summary>
    private static ImageSet Images()
    {
        var random = new Random(5);
        var pixels = new byte[Count * Side * Side];
        random.NextBytes(pixels);
        var labels = new byte[Count];
        for (int i = 0; i < Count; i++) labels[i] = (byte)(i % 10);
        return new ImageSet(pixels, labels, Side, Side);
    }

    private static Sequential ConvModel() => new(
        new Conv2d(1, 3, 3, padding: 1, rng: new Rng(1)), new BatchNorm2d(3), new ReLU(), new Dropout(0.5, new Rng(2)),
        new Conv2d(3, 4, 3, rng: new Rng(3)), new BatchNorm2d(4, momentum: null), new Flatten(), new Linear(16, 5, rng: new Rng(4)),
        new Sequential(new BatchNorm1d(5, momentum: 0.3), new Sigmoid()));

    /// <summary>Algorithm 2 computed independently: each batch runs through the layers, every BN normalizing with the
    /// batch's own mean and biased variance (computed here in double); E[x] is the mean of the batch means and
    /// Var[x] the mean of m / (m - 1) * biased variance, per channel, for each BN input.</summary>
    private static Dictionary<BatchNormBase, (double[] Mean, double[] Var)> Reference(Module model, IEnumerable<Tensor> batches)
    {
        var sums = new Dictionary<BatchNormBase, (double[] Mean, double[] Var)>();
        int count = 0;
        foreach (var batch in batches)
        {
            Run(model, batch);
            count++;
        }
        foreach (var (mean, variance) in sums.Values)
            for (int c = 0; c < mean.Length; c++)
            {
                mean[c] /= count;
                variance[c] /= count;
            }
        return sums;

        Tensor Run(Module module, Tensor x)
        {
            switch (module)
            {
                case Sequential s:
                    foreach (var (_, child) in s.Children()) x = Run(child, x);
                    return x;
                case BatchNormBase bn:
                    return Normalize(bn, x);
                default:
                    return module.Forward(x).Clone();
            }
        }

        Tensor Normalize(BatchNormBase bn, Tensor x)
        {
            int n = x.Dim(0), c = x.Dim(1), inner = x.Length / (n * c);
            double m = (double)n * inner;
            if (!sums.TryGetValue(bn, out var sum)) sums[bn] = sum = (new double[c], new double[c]);
            var y = Tensor.Zeros(x.Shape);
            for (int ch = 0; ch < c; ch++)
            {
                double mean = 0, squares = 0;
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < inner; j++) mean += x.Span[(i * c + ch) * inner + j];
                mean /= m;
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < inner; j++) squares += Math.Pow(x.Span[(i * c + ch) * inner + j] - mean, 2);
                double biased = squares / m;
                sum.Mean[ch] += mean;
                sum.Var[ch] += biased * m / (m - 1);
                double gamma = bn.Weight?.Value.Span[ch] ?? 1, beta = bn.Bias?.Value.Span[ch] ?? 0;
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < inner; j++)
                    {
                        int k = (i * c + ch) * inner + j;
                        y.Span[k] = (float)((x.Span[k] - mean) / Math.Sqrt(biased + bn.Eps) * gamma + beta);
                    }
            }
            return y;
        }
    }

    [Fact]
    public void Recompute_GivesTheExactPopulationStatistics_OfEveryBatchNormInput()
    {
        var model = ConvModel();
        RandomizeState(model, seed: 30);
        var loader = new DataLoader(Images(), BatchSize, seed: 7, layout: InputLayout.Image);
        int batches = loader.BatchesPerEpoch; // one shuffled epoch: 4 batches of 12 that partition the 48 images

        Assert.Equal(3, BatchNormStatistics.Recompute(model, loader, batches));
        Assert.Equal(new LoaderPosition(0, 0), loader.Position);

        // the same batches, taken from the restored position, through the independent computation (dropout off)
        var inputs = Enumerable.Range(0, batches).Select(_ => loader.Next().Inputs.Clone()).ToList();
        model.Eval();
        var expected = Reference(model, inputs);
        foreach (var (name, module) in model.NamedModules())
        {
            if (module is not BatchNormBase bn) continue;
            AssertClose(expected[bn].Mean, bn.RunningMean!.ReadOnlySpan, 1e-6, $"{name} mean", floor: 1e-3);
            AssertClose(expected[bn].Var, bn.RunningVar!.ReadOnlySpan, 1e-6, $"{name} var");
            Assert.Equal(batches, bn.NumBatchesTracked);
        }

        // the batches partition the data, so the first BN's E[x] is the mean of its input over the whole data set
        var all = new DataLoader(Images(), Count, shuffle: false, layout: InputLayout.Image).Next().Inputs;
        var conv = model[0].Forward(all);
        var population = new double[3];
        int plane = Side * Side;
        for (int i = 0; i < Count; i++)
            for (int c = 0; c < 3; c++)
                for (int j = 0; j < plane; j++) population[c] += conv.Span[(i * 3 + c) * plane + j] / ((double)Count * plane);
        AssertClose(population, ((BatchNorm2d)model[1]).RunningMean!.ReadOnlySpan, 1e-6, "population mean of the first BN input", floor: 1e-3);
    }

    [Fact]
    public void Recompute_DoesNotDependOnMomentum_AndChangesNoParameterModeOrGenerator()
    {
        float[][] Run(double momentum)
        {
            var model = ConvModel();
            RandomizeState(model, seed: 30);
            foreach (var (_, m) in model.NamedModules())
                if (m is BatchNormBase bn) bn.Momentum = momentum;
            model.Train();
            model[3].Eval(); // a mixed state must come back as it was
            var modes = model.NamedModules().Select(m => m.Module.Training).ToArray();
            var parameters = model.NamedParameters().Select(p => p.Parameter.Value.ToArray()).ToArray();
            var grads = model.NamedParameters().Select(p => p.Parameter.Grad.ToArray()).ToArray();
            var generator = ((Dropout)model[3]).Generator.GetState();

            var loader = new DataLoader(Images(), BatchSize, seed: 8, layout: InputLayout.Image);
            loader.Next(); // mid-epoch: batches 2-4 of epoch 0, then 1-3 of epoch 1
            BatchNormStatistics.Recompute(model, loader, 6);
            Assert.Equal(new LoaderPosition(0, BatchSize), loader.Position);

            Assert.Equal(modes, model.NamedModules().Select(m => m.Module.Training).ToArray());
            Assert.Equal(parameters, model.NamedParameters().Select(p => p.Parameter.Value.ToArray()).ToArray());
            Assert.Equal(grads, model.NamedParameters().Select(p => p.Parameter.Grad.ToArray()).ToArray());
            Assert.Equal(generator, ((Dropout)model[3]).Generator.GetState());
            return model.StateEntries().Where(e => e.Tensor is not null).Select(e => e.Tensor!.ToArray()).ToArray();
        }
        Assert.Equal(Run(0.1), Run(0.9));
    }

    [Fact]
    public void Recompute_KeepsFrozenLayers_AndRefusesVirtualBatches()
    {
        var frozen = new BatchNorm1d(16);
        var model = new Sequential(new Flatten(), frozen, new ReLU(), new BatchNorm1d(16));
        RandomizeState(model, 3);
        frozen.Frozen = true;
        var loader = new DataLoader(Images(), BatchSize, layout: InputLayout.Image);
        var before = frozen.StateEntries().Where(e => e.Tensor is not null).Select(e => e.Tensor!.ToArray()).ToArray();
        Assert.Equal(1, BatchNormStatistics.Recompute(model, loader, 2));
        Assert.Equal(before, frozen.StateEntries().Where(e => e.Tensor is not null).Select(e => e.Tensor!.ToArray()).ToArray());

        var ghost = new Sequential(new Flatten(), new BatchNorm1d(16, virtualBatchSize: 2));
        var e = Assert.Throws<NotSupportedException>(() => BatchNormStatistics.Recompute(ghost, loader, 2));
        Assert.Contains("virtual batches of 2", e.Message);
    }

    [Fact]
    public void Recompute_OfALayerRunTwicePerForward_FailsAndLeavesTheStatistics()
    {
        var shared = new BatchNorm1d(16);
        var model = new Sequential(new Flatten(), shared, new ReLU(), shared);
        model.Train();
        var loader = new DataLoader(Images(), BatchSize, layout: InputLayout.Image);
        model.Forward(loader.Next().Inputs);
        var mean = shared.RunningMean!.ToArray();
        var tracked = shared.NumBatchesTracked;

        var e = Assert.Throws<InvalidOperationException>(() => BatchNormStatistics.Recompute(model, loader, 2));
        Assert.Contains("BatchNorm1d at '1' ran 2 times", e.Message);
        Assert.Equal(mean, shared.RunningMean!.ToArray());
        Assert.Equal(tracked, shared.NumBatchesTracked);
        Assert.True(model.Training && shared.Training);
    }

    [Fact]
    public void Recompute_WithoutBatchNorm_DoesNothing()
    {
        var model = new Sequential(new Flatten(), new Linear(16, 3, rng: new Rng(1)));
        var loader = new DataLoader(Images(), BatchSize, layout: InputLayout.Image);
        Assert.Equal(0, BatchNormStatistics.Recompute(model, loader, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchNormStatistics.Recompute(model, loader, 0));
    }
}
