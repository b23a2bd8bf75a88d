using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using NormNet.Kernels;
using NormNet.Layers;
using NormNet.Threading;

namespace NormNet.Deployment;

/// <summary>
/// Runs a network's inference model (<see cref="InferenceModel.Create"/>) on a batch a group of samples at a time: each
/// worker takes whole groups through the whole network on one core, so a group's activations stay in that core's cache
/// from one layer to the next and no layer is handed to the workers on its own. The outputs are those of the inference
/// model on the whole batch, bit for bit.
/// </summary>
/// <remarks>
/// <para>Layer by layer, a batch of 64 streams each layer's whole output (3.2 MB for the resnet's first stage) through the
/// shared cache before the next layer reads it, and every layer waits for its slowest worker. Measured against the
/// inference model and ONNX Runtime at batch 64 (1 and 2 threads): see BENCHMARKS.md, ninth round.</para>
/// <para>Each worker runs its own copy of the network (a layer keeps its output between calls), built from the model when
/// this is created: like the inference model it is a snapshot of the weights. The copies are private, so their
/// convolutions pack their weights once, here, instead of on every call (at batch 1 that packing was 6-11% of a forward). Only networks whose every layer computes a
/// sample from that sample alone in eval mode qualify; batch norm that normalizes with the batch's own statistics
/// (<c>trackRunningStats: false</c>) or a module this class does not know makes the constructor throw. A batch of at most
/// one group runs through the first copy as the inference model runs it (its layers split among the workers). With the
/// OpenBLAS backend the groups run one after another on the calling thread. Forward only; the output stays valid until
/// the next <see cref="Forward"/>, and one <see cref="Forward"/> runs at a time.</para>
/// </remarks>
public sealed unsafe class GroupedInference : Module
{
    /// <summary>Samples per group of a network with convolutions unless the constructor is told otherwise: 16. Measured at
    /// batch 64 in one process, groups of 4 / 8 / 16 / 32 against the inference model (us): cnn 1608-1649 / 1548-1576 /
    /// 1541 / 1538 against 1684-1686 on 2 threads, 3061-3074 / 2931-3014 / 2881 / 2874 against 2874-2894 on 1 (its 1.6 MB
    /// fully connected weight is read again by every group); resnet 4637-5070 / 4659-4680 / 4055-4722 / 4224-4422 against
    /// 5854-5961 on 2 threads, 7869-7897 / 7745-7791 / 7708-7860 / 7840-7916 against 8494-8662 on 1. A network without
    /// convolutions has activations of a few hundred values per sample, which fit the cache whole: it runs one group per
    /// worker.</summary>
    public const int DefaultGroupSize = 16;

    /// <summary>The most copies of the network made by default, whatever the processor count.</summary>
    public const int MaxDefaultCopies = 16;

    private readonly Module[] _copies;
    private readonly Tensor?[] _pieces;
    private readonly object _gate = new();
    private Tensor? _input, _output;
    private int _outputFor = -1, _calls;
    private ExceptionDispatchInfo? _failure;
    private ComputeSettings? _outer, _single;
    private readonly bool _convolutional;
    private int _group;

    /// <summary>Builds <paramref name="copies"/> (default: the processor count, at most <see cref="MaxDefaultCopies"/>) copies
    /// of <paramref name="model"/>'s inference model, which run groups of <paramref name="groupSize"/> samples (default:
    /// <see cref="DefaultGroupSize"/> for a network with convolutions, else the batch split evenly among the workers).</summary>
    /// <exception cref="InvalidOperationException">A module of <paramref name="model"/> is in training mode.</exception>
    /// <exception cref="NotSupportedException">A layer may mix samples in eval mode, or is unknown here, or folding refuses the model.</exception>
    public GroupedInference(Module model, int? groupSize = null, int? copies = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (groupSize is int size) ArgumentOutOfRangeException.ThrowIfLessThan(size, 1, nameof(groupSize));
        int count = copies ?? Math.Clamp(Environment.ProcessorCount, 1, MaxDefaultCopies);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1, nameof(copies));
        _copies = new Module[count];
        _copies[0] = InferenceModel.Create(model);
        if (MixingLayer(_copies[0], "model") is { } layer)
            throw new NotSupportedException($"GroupedInference: {layer} may compute a sample from others in eval mode (or is unknown here), " +
                "so groups would change its outputs; run InferenceModel.Create's model on the whole batch instead.");
        for (int i = 1; i < count; i++) _copies[i] = InferenceModel.Create(model);
        // the copies are private, so their weights never change: each convolution packs its weights once, not on every call
        foreach (var copy in _copies)
            foreach (var (_, module) in copy.NamedModules())
                if (module is Conv2d conv) conv.FreezeWeights();
        _pieces = new Tensor?[count];
        GroupSize = groupSize;
        _convolutional = _copies[0].NamedModules().Any(m => m.Module is Conv2d);
        Eval();
    }

    /// <summary>Samples per group as given to the constructor, or null: chosen per call (<see cref="DefaultGroupSize"/>).</summary>
    public int? GroupSize { get; }

    /// <summary>Copies of the network: at most this many groups run at once.</summary>
    public int Copies => _copies.Length;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (Training) throw new InvalidOperationException("GroupedInference runs in eval mode only: call Eval().");
        var settings = ComputeSettings.Current;
        int n = input.Rank == 0 ? 0 : input.Dim(0);
        int workers = settings.GemmBackend == GemmBackend.OpenBlas ? 1 : Math.Min(settings.MaxThreads, _copies.Length);
        _group = GroupSize ?? (_convolutional ? DefaultGroupSize : Math.Max(1, (n + workers - 1) / workers));
        int groups = (n + _group - 1) / _group;
        if (groups <= 1) return _copies[0].Forward(input);
        workers = Math.Min(workers, groups);
        if (!ReferenceEquals(settings, _outer)) (_outer, _single) = (settings, settings.WithMaxThreads(1));
        _input = input;
        _calls++;
        _failure = null;
        try
        {
            if (workers == 1) Run(0, 1);
            else
            {
                var handle = GCHandle.Alloc(this);
                try
                {
                    var job = new Job { Self = GCHandle.ToIntPtr(handle), Workers = workers };
                    Parallelism.For(workers, &job, &Worker);
                }
                finally
                {
                    handle.Free();
                }
            }
        }
        finally
        {
            _input = null;
        }
        _failure?.Throw();
        return _output!;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput) =>
        throw new NotSupportedException("GroupedInference runs forward only: train the model it was built from.");

    private struct Job
    {
        public nint Self;
        public int Workers;
    }

    private static void Worker(void* state, int worker)
    {
        var job = (Job*)state;
        var self = (GroupedInference)GCHandle.FromIntPtr(job->Self).Target!;
        using var scope = ComputeSettings.Use(self._single!);
        self.Run(worker, job->Workers);
    }

    /// <summary>Groups worker, worker + workers, ... through copy <paramref name="worker"/>, each group's outputs copied into
    /// the batch's; the first failure is kept for the caller.</summary>
    private void Run(int worker, int workers)
    {
        var input = _input!;
        int n = input.Dim(0);
        try
        {
            for (int g = worker; g * _group < n; g += workers)
            {
                int start = g * _group, rows = Math.Min(_group, n - start);
                var y = _copies[worker].Forward(Tensor.CopyRows(input, start, rows, ref _pieces[worker]));
                if (y.Rank == 0 || y.Dim(0) != rows)
                    throw new InvalidOperationException($"GroupedInference: the network turned {rows} samples into {y.ShapeString}; it must keep the batch axis.");
                var output = Output(n, y);
                int length = y.Length / rows;
                y.ReadOnlySpan.CopyTo(output.Span.Slice(start * length, rows * length));
            }
        }
        catch (Exception e)
        {
            lock (_gate) _failure ??= ExceptionDispatchInfo.Capture(e);
        }
    }

    /// <summary>This call's output (n samples shaped as <paramref name="y"/>'s), allocated by the first group to finish
    /// (reused while the shape holds); a group of another shape is an error.</summary>
    private Tensor Output(int n, Tensor y)
    {
        lock (_gate)
        {
            if (_outputFor != _calls)
            {
                _output = Tensor.HasRows(_output, n, y) ? _output : Tensor.Reuse(_output, [n, .. y.Dims[1..]]);
                _outputFor = _calls;
            }
            else if (!Tensor.HasRows(_output, n, y))
                throw new InvalidOperationException($"GroupedInference: groups gave outputs {y.ShapeString} and {_output!.ShapeString} past the batch axis.");
            return _output!;
        }
    }

    /// <summary>The first module (by path) that may compute a sample from the others in eval mode or that this class does
    /// not know, or null: containers qualify when their children do. (Folding already refuses such models; this holds the
    /// class to its promise whatever the inference model comes to hold.)</summary>
    internal static string? MixingLayer(Module module, string path)
    {
        bool known = module switch
        {
            BatchNormBase bn => bn.TrackRunningStats,
            Sequential or Residual or ResidualReLU or ConvReLU2d or ConvReLUMaxPool2d or Conv2d or Linear or FrozenLinear => true,
            Activation or Pool2d or GlobalAvgPool2d or Flatten or Dropout or ChannelAffine or FrozenBatchNorm2d => true,
            GroupNorm or LayerNorm or InstanceNormBase or BatchRenormBase => true,
            _ => false,
        };
        if (!known) return $"{path} ({module.GetType().Name})";
        foreach (var (name, child) in module.Children())
            if (MixingLayer(child, $"{path}.{name}") is { } found) return found;
        return null;
    }
}
