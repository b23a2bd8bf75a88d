using NormNet.Kernels;

namespace NormNet.Layers;

// SyncBatchNorm: training statistics over the batches of all processes (see IBatchStatisticsSync).
public abstract partial class BatchNormBase
{
    private double[]? _syncSums;
    private long _syncedCount;

    /// <summary>When set, training-mode statistics span the batches of every process of a data-parallel job (PyTorch's
    /// <c>SyncBatchNorm</c>); null (the default): this process's batch only. Eval mode is unaffected.</summary>
    /// <remarks>Forward combines per-process counts, means and sums of squared deviations (Chan's formula, in double);
    /// backward sums <c>sum(dy)</c> and <c>sum(dy * xhat)</c> over processes in one call. The running statistics,
    /// updated from the combined ones, are then the same on every process. <see cref="Weight"/> and <see cref="Bias"/>
    /// receive this process's share of their gradients, which the data-parallel gradient sum completes, as in
    /// PyTorch. A process may hold an empty batch (0 rows); it still takes part in every call.</remarks>
    public IBatchStatisticsSync? StatisticsSync { get; set; }

    /// <summary>The values per channel that the last synchronized training forward's statistics span (all processes).</summary>
    public long SynchronizedValuesPerChannel => _syncedCount;

    /// <summary>Training forward with statistics combined over processes; the local kernel gives this process's
    /// moments (and a first output, overwritten).</summary>
    private long SynchronizedForward(IBatchStatisticsSync sync, Tensor input, BatchNormShape shape, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> beta, Tensor output)
    {
        long local = shape.PerChannel;
        if (local > 0) BatchNorm.TrainingForward(input.ReadOnlySpan, gamma, beta, shape, Eps, output.Span, _mean, _invstd, _variance);
        for (int c = 0; c < NumFeatures; c++) _variance[c] *= local; // M2 = n * biased variance
        long count = sync.CombineMoments(local, _mean, _variance);
        if (count <= 1)
            throw new ArgumentException($"Expected more than 1 value per channel over all processes when training, got {count} (input size {input.ShapeString} here).", nameof(input));
        for (int c = 0; c < NumFeatures; c++)
        {
            _variance[c] = Math.Max(0, _variance[c] / count);
            _invstd[c] = 1.0 / Math.Sqrt(_variance[c] + Eps);
        }
        BatchNorm.NormalizeWith(input.ReadOnlySpan, gamma, beta, _mean, _invstd, shape, output.Span);
        _syncedCount = count;
        return count;
    }

    /// <summary>Training backward with sum(dy) and sum(dy * xhat) summed over processes; dgamma and dbeta get this process's share.</summary>
    private void SynchronizedBackward(IBatchStatisticsSync sync, Tensor gradOutput, Tensor input, Span<float> gradInput,
        ReadOnlySpan<float> gamma, Span<float> dgamma, Span<float> dbeta)
    {
        int c = NumFeatures;
        var sums = _syncSums ??= new double[4 * c]; // local sumDy, local sumDyD, then the global pair
        var sumDy = sums.AsSpan(0, c);
        var sumDyD = sums.AsSpan(c, c);
        BatchNorm.GradientSums(gradOutput.ReadOnlySpan, input.ReadOnlySpan, _mean, _shape, sumDy, sumDyD);
        for (int j = 0; j < c; j++)
        {
            sumDyD[j] *= _invstd[j]; // sum(dy * xhat)
            if (!dgamma.IsEmpty) dgamma[j] += (float)sumDyD[j];
            if (!dbeta.IsEmpty) dbeta[j] += (float)sumDy[j];
        }
        var global = sums.AsSpan(2 * c, 2 * c);
        sums.AsSpan(0, 2 * c).CopyTo(global);
        sync.SumOverProcesses(global);
        BatchNorm.ApplyGradientWith(gradOutput.ReadOnlySpan, input.ReadOnlySpan, gamma, _mean, _invstd, global[..c], global[c..],
            _syncedCount, _shape, gradInput);
    }
}
