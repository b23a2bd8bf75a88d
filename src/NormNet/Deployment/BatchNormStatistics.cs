using NormNet.Data;
using NormNet.Layers;

namespace NormNet.Deployment;

/// <summary>
/// Population statistics for inference ("precise BN"; Algorithm 2 of Ioffe and Szegedy, 2015): replaces every batch
/// norm layer's running statistics, a momentum-weighted average that still remembers early training, by an exact
/// average over training batches taken with the final weights.
/// </summary>
/// <remarks>
/// <para>For each layer, with B batches of m values per channel (m = N for (N, C) input, N * H * W for images):
/// <c>E[x] = (1 / B) * sum of the batch means</c> and <c>Var[x] = (1 / B) * sum of m / (m - 1) * (biased batch
/// variance)</c>, which for equal batches is the paper's <c>m / (m - 1) * E_B[sigma_B^2]</c>. Sums are kept in
/// double; the result does not depend on <see cref="BatchNormBase.Momentum"/>.</para>
/// <para>Every layer sees what it sees in training: each batch runs through the network with the batch norm layers
/// in training mode, so each normalizes with its own batch statistics and feeds the next. All other layers run in
/// eval mode, so dropout is off (the statistics describe the inputs seen at inference) and dropout's random
/// generators are not advanced.</para>
/// </remarks>
public static class BatchNormStatistics
{
    /// <summary>
    /// Resets the running statistics of every batch norm layer that tracks them and sets them to population
    /// statistics estimated over <paramref name="batches"/> batches from <paramref name="loader"/>.
    /// </summary>
    /// <param name="model">The network. Its parameters and gradients are not changed, and every module's
    /// train/eval mode is restored afterwards.</param>
    /// <param name="loader">The training data. Batches are taken from its current position, which is restored
    /// afterwards, so a training run that goes on is unchanged (and a second call sees the same batches). A batch
    /// the caller still holds from this loader may be overwritten.</param>
    /// <param name="batches">How many batches to average over, at least 1; the loader wraps into the next epoch if needed.</param>
    /// <returns>The number of layers whose statistics were recomputed (0 if the model has no batch norm layer that
    /// tracks running statistics; nothing is then run). Frozen layers (<see cref="BatchNormBase.Frozen"/>) keep theirs. Each such layer ends with
    /// <see cref="BatchNormBase.NumBatchesTracked"/> = <paramref name="batches"/>.</returns>
    /// <exception cref="InvalidOperationException">A batch gave non-finite statistics, or a layer did not run exactly
    /// once per forward pass (unused, or shared between places); the running statistics are then left as they were.</exception>
    /// <exception cref="NotSupportedException">A layer normalizes in virtual batches (<see cref="BatchNormBase.VirtualBatchSize"/>).</exception>
    public static int Recompute(Module model, DataLoader loader, int batches)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loader);
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        var layers = model.NamedModules()
            .Where(m => m.Module is BatchNormBase { TrackRunningStats: true, Frozen: false })
            .DistinctBy(m => m.Module) // a layer reached twice is checked (and refused) once
            .Select(m => new LayerSums(m.Name, (BatchNormBase)m.Module))
            .ToList();
        if (layers.Count == 0) return 0;

        var modes = model.NamedModules().Select(m => (m.Module, m.Module.Training)).ToList();
        var position = loader.Position;
        bool done = false;
        try
        {
            model.Eval();
            foreach (var (_, module) in model.NamedModules())
                if (module is BatchNormBase) module.Train();
            foreach (var layer in layers) layer.Layer.ResetRunningStats();
            for (int b = 0; b < batches; b++)
            {
                model.Forward(loader.Next().Inputs);
                foreach (var layer in layers) layer.Accumulate(b);
            }
            foreach (var layer in layers) layer.Write(batches);
            done = true;
        }
        finally
        {
            if (!done)
                foreach (var layer in layers) layer.Restore();
            // pre-order: a parent's Train(mode) reaches its children, which are then set to their own mode
            foreach (var (module, training) in modes) module.Train(training);
            loader.Position = position;
        }
        return layers.Count;
    }

    /// <summary>One layer's running sums, and a copy of its original statistics to restore on failure.</summary>
    private sealed class LayerSums
    {
        private readonly double[] _meanSum, _varianceSum;
        private readonly float[] _savedMean, _savedVariance;
        private readonly long _savedTracked, _skippedBefore;

        public LayerSums(string name, BatchNormBase layer)
        {
            if (layer.VirtualBatchSize is { } v)
                throw new NotSupportedException(
                    $"{layer.GetType().Name} at '{(name.Length == 0 ? "(root)" : name)}' uses virtual batches of {v}: population statistics are " +
                    "defined over whole batches; use a layer without virtualBatchSize (the state dict is the same) to compute them.");
            Name = name;
            Layer = layer;
            _meanSum = new double[layer.NumFeatures];
            _varianceSum = new double[layer.NumFeatures];
            _savedMean = layer.RunningMean!.ToArray();
            _savedVariance = layer.RunningVar!.ToArray();
            _savedTracked = layer.NumBatchesTracked;
            _skippedBefore = layer.SkippedNonFiniteBatches;
        }

        public string Name { get; }

        public BatchNormBase Layer { get; }

        /// <summary>Adds the statistics of batch <paramref name="batch"/>, which the layer's last forward computed.</summary>
        public void Accumulate(int batch)
        {
            string where = $"{Layer.GetType().Name} at '{(Name.Length == 0 ? "(root)" : Name)}'";
            if (Layer.SkippedNonFiniteBatches != _skippedBefore)
                throw new InvalidOperationException($"{where}: batch {batch} gave NaN or infinite statistics; no population statistics were written.");
            // in training mode every forward adds one to num_batches_tracked, so this counts the layer's runs
            if (Layer.NumBatchesTracked != batch + 1)
                throw new InvalidOperationException(
                    $"{where} ran {Layer.NumBatchesTracked - batch} times in forward pass {batch + 1}; population statistics need every batch norm layer to run exactly once per forward.");
            // sums of mu_B and of m / (m - 1) * sigma_B^2 (biased)
            long m = Layer.BatchValuesPerChannel;
            double unbias = (double)m / (m - 1);
            var mean = Layer.BatchMean;
            var variance = Layer.BatchVariance;
            for (int c = 0; c < _meanSum.Length; c++)
            {
                _meanSum[c] += mean[c];
                _varianceSum[c] += variance[c] * unbias;
            }
        }

        /// <summary>Writes E[x] and Var[x] as the running statistics.</summary>
        public void Write(int batches)
        {
            var runningMean = Layer.RunningMean!.Span;
            var runningVar = Layer.RunningVar!.Span;
            for (int c = 0; c < _meanSum.Length; c++)
            {
                runningMean[c] = (float)(_meanSum[c] / batches);
                runningVar[c] = (float)(_varianceSum[c] / batches);
            }
            Layer.NumBatchesTracked = batches;
        }

        public void Restore()
        {
            _savedMean.CopyTo(Layer.RunningMean!.Span);
            _savedVariance.CopyTo(Layer.RunningVar!.Span);
            Layer.NumBatchesTracked = _savedTracked;
        }
    }
}
