using System.Diagnostics;
using NormNet.Data;
using NormNet.Layers;
using NormNet.Optim;

namespace NormNet.Distributed;

/// <summary>Data-parallel training over the ranks of a communicator, as PyTorch's DistributedDataParallel: every rank
/// holds the whole model, takes its shard of each global batch (<see cref="DataShard"/>), and the gradients are
/// summed over ranks before the optimizer step, so every rank's parameters stay identical, bit for bit.</summary>
/// <remarks><para>The trainer (<c>Trainer.Parallel</c>) scales each rank's loss gradient by n_rank / n_global before the
/// backward pass, so the summed gradient is the gradient of the global batch's mean loss, whatever the shard sizes.
/// Gradients travel in buckets (<see cref="BucketElements"/> floats): a few large allreduce calls per step, not one per
/// tensor.</para>
/// <para>Batch norm: without <see cref="SyncBatchNorm"/> each rank normalizes with its own shard's statistics, as in
/// DDP; its running statistics would then drift apart, so, as DDP's <c>broadcast_buffers</c>, rank 0's buffers are
/// broadcast after every step (<see cref="BroadcastBuffers"/>): running statistics are rank 0's shard's, and the whole
/// state is identical on every rank after every step. With every batch norm synchronized nothing needs sending.</para></remarks>
public sealed class DataParallel
{
    /// <summary>The default bucket: 1 Mi floats (4 MiB), one or two calls per step for the built-in networks.</summary>
    public const int DefaultBucketElements = 1 << 20;

    private readonly Parameter[] _parameters;
    private readonly TensorBuffer[] _floatBuffers;
    private readonly Int64Buffer[] _intBuffers;
    private readonly BatchNormBase[] _batchNorms;
    private readonly bool _buffersAllInBatchNorms;
    private readonly float[] _bucket;
    private readonly long[] _counts;
    private readonly double[] _step = new double[2];
    private long _communicationTicks;

    /// <summary>Prepares data-parallel training of <paramref name="model"/> over <paramref name="comm"/>.</summary>
    public DataParallel(ICommunicator comm, Module model, int bucketElements = DefaultBucketElements)
    {
        Communicator = comm ?? throw new ArgumentNullException(nameof(comm));
        Model = model ?? throw new ArgumentNullException(nameof(model));
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketElements, 1);
        _parameters = model.Parameters().ToArray();
        _floatBuffers = model.NamedBuffers().Select(b => b.Buffer).OfType<TensorBuffer>().ToArray();
        _intBuffers = model.NamedBuffers().Select(b => b.Buffer).OfType<Int64Buffer>().ToArray();
        _batchNorms = model.NamedModules().Select(m => m.Module).OfType<BatchNormBase>().ToArray();
        _buffersAllInBatchNorms = _floatBuffers.Length + _intBuffers.Length == _batchNorms.Sum(bn => bn.NamedBuffers().Count());
        long total = _parameters.Sum(p => (long)p.Grad.Length);
        BucketElements = bucketElements;
        _bucket = new float[(int)Math.Min(Math.Max(total, 1), bucketElements)];
        _counts = new long[_intBuffers.Length];
        GradientElements = total;
    }

    /// <summary>The ranks.</summary>
    public ICommunicator Communicator { get; }

    /// <summary>The model.</summary>
    public Module Model { get; }

    /// <summary>The most floats per allreduce call.</summary>
    public int BucketElements { get; }

    /// <summary>The number of gradient values summed per step (the parameter count).</summary>
    public long GradientElements { get; }

    /// <summary>Whether rank 0 of <see cref="Communicator"/> is this process (the one that writes files).</summary>
    public bool IsRoot => Communicator.Rank == 0;

    /// <summary>Wall time spent inside this object's collectives (gradients, buffers, step metrics) so far.</summary>
    public TimeSpan CommunicationTime => Stopwatch.GetElapsedTime(0, _communicationTicks);

    /// <summary>Makes <paramref name="loader"/> deliver this rank's shard of each global batch.</summary>
    public void Attach(DataLoader loader)
    {
        ArgumentNullException.ThrowIfNull(loader);
        loader.Shard = new DataShard(Communicator.Rank, Communicator.Size);
    }

    /// <summary>Overwrites, on every rank, the model's parameters, buffers and generators and the optimizer's state
    /// with rank 0's: the start of a run (initial weights) or a resume.</summary>
    public void BroadcastState(Optimizer? optimizer)
    {
        var tensors = Model.StateEntries().Where(e => e.Tensor is not null).Select(e => e.Tensor!)
            .Concat(optimizer?.StateTensors().Select(s => s.State) ?? []).ToArray();
        Timed(() =>
        {
            foreach (var t in tensors) Communicator.Broadcast(t.Span);
            var ints = _intBuffers.Select(b => b.Value).Append(optimizer?.StepCount ?? 0).ToArray();
            Communicator.Broadcast<long>(ints);
            for (int i = 0; i < _intBuffers.Length; i++) _intBuffers[i].Value = ints[i];
            if (optimizer is not null) optimizer.StepCount = ints[^1];
            foreach (var (_, rng) in Model.NamedGenerators())
            {
                var state = rng.GetState();
                Communicator.Broadcast<ulong>(state);
                rng.SetState(state);
            }
        });
    }

    /// <summary>Overwrites every rank's buffers (running statistics, batch counts) with rank 0's; a few hundred floats
    /// for the built-in networks. Called by the trainer after each step; nothing is sent when every batch norm layer
    /// is synchronized (its buffers are then identical already).</summary>
    public void BroadcastBuffers()
    {
        if (Communicator.Size == 1 || (_buffersAllInBatchNorms && Array.TrueForAll(_batchNorms, bn => bn.StatisticsSync is not null))) return;
        Timed(() =>
        {
            foreach (var b in _floatBuffers) Communicator.Broadcast(b.Value.Span);
            for (int i = 0; i < _counts.Length; i++) _counts[i] = _intBuffers[i].Value;
            Communicator.Broadcast<long>(_counts);
            for (int i = 0; i < _counts.Length; i++) _intBuffers[i].Value = _counts[i];
        });
    }

    /// <summary>Scales this rank's loss gradient by <paramref name="local"/> / <paramref name="global"/>: the gradient of
    /// its share of the global batch's mean loss.</summary>
    public static void ScaleLossGradient(Tensor gradient, int local, int global)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        if (local == global) return;
        float scale = (float)((double)local / global);
        var g = gradient.Span;
        for (int i = 0; i < g.Length; i++) g[i] *= scale;
    }

    /// <summary>Sums every parameter's gradient over the ranks, in buckets of <see cref="BucketElements"/> floats.</summary>
    public void SumGradients()
    {
        if (Communicator.Size == 1) return;
        Timed(() =>
        {
            int filled = 0;
            var pending = new List<(Parameter P, int Offset, int Length, int At)>();
            foreach (var p in _parameters)
                for (int offset = 0; offset < p.Grad.Length;)
                {
                    int n = Math.Min(p.Grad.Length - offset, _bucket.Length - filled);
                    p.Grad.ReadOnlySpan.Slice(offset, n).CopyTo(_bucket.AsSpan(filled, n));
                    pending.Add((p, offset, n, filled));
                    filled += n;
                    offset += n;
                    if (filled == _bucket.Length) Flush(pending, ref filled);
                }
            if (filled > 0) Flush(pending, ref filled);
        });
    }

    private void Flush(List<(Parameter P, int Offset, int Length, int At)> pending, ref int filled)
    {
        Communicator.AllReduceSum(_bucket.AsSpan(0, filled));
        foreach (var (p, offset, n, at) in pending) _bucket.AsSpan(at, n).CopyTo(p.Grad.Span.Slice(offset, n));
        pending.Clear();
        filled = 0;
    }

    /// <summary>The global batch's mean loss and metric from each rank's (one allreduce of two doubles): means weighted
    /// by shard size; a root-mean-square metric (regression's RMSE) is combined as one.</summary>
    public (double Loss, double Metric) CombineStep(double loss, double metric, bool metricIsRootMeanSquare, int local, int global)
    {
        if (Communicator.Size == 1) return (loss, metric);
        _step[0] = loss * local / global;
        _step[1] = (metricIsRootMeanSquare ? metric * metric : metric) * local / global;
        Timed(() => Communicator.AllReduceSum(_step));
        return (_step[0], metricIsRootMeanSquare ? Math.Sqrt(_step[1]) : _step[1]);
    }

    /// <summary>Throws a <see cref="RankMismatchException"/> on every rank unless the model's state is bit-identical on all ranks.</summary>
    public void CheckInSync(long step) =>
        Timed(() => RankAgreement.Check(Communicator, StateHash.Of(Model), $"parameters after step {step}"));

    private void Timed(Action collective)
    {
        long start = Stopwatch.GetTimestamp();
        try { collective(); }
        finally { _communicationTicks += Stopwatch.GetTimestamp() - start; }
    }
}
