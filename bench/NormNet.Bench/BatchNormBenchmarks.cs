using BenchmarkDotNet.Attributes;
using NormNet.Layers;

namespace NormNet.Bench;

/// <summary>
/// BenchmarkDotNet benchmarks of the batch-norm layer (kernels plus layer bookkeeping) on the shapes of
/// BENCHMARKS.md. The GB/s column counts minimal traffic: 12 B/element for the training forward,
/// 20 for the backward, 8 for the eval forward.
/// </summary>
[MemoryDiagnoser]
public class BatchNormBenchmarks
{
    private BatchNormBase _bn = null!;
    private Tensor _x = null!, _g = null!;

    /// <summary>Shape and layout, e.g. "32x64x56x56" (NCHW) or "32x64x56x56-cl" (channels-last).</summary>
    [Params("60x100", "256x1024", "32x64x56x56", "32x64x56x56-cl", "128x256x14x14", "128x256x14x14-cl", "64x128x56x56", "64x128x56x56-cl")]
    public string Shape { get; set; } = "60x100";

    [GlobalSetup]
    public void Setup()
    {
        var (bn, x) = BatchNormCase.Create(Shape);
        _bn = bn;
        _x = x;
        _g = BatchNormCase.Filled(x.Shape, 7);
        _bn.Train();
        _bn.Forward(_x);
    }

    [Benchmark] public Tensor TrainingForward() => _bn.Train().Forward(_x);

    [Benchmark] public Tensor Backward() => _bn.Backward(_g);

    [Benchmark] public Tensor EvalForward() => _bn.Eval().Forward(_x);
}

/// <summary>Builds a BN layer and input for a shape string shared by the benchmarks and the rows.</summary>
internal static class BatchNormCase
{
    public static (BatchNormBase Layer, Tensor Input) Create(string spec)
    {
        bool last = spec.EndsWith("-cl", StringComparison.Ordinal);
        int[] dims = spec.Replace("-cl", "").Split('x').Select(int.Parse).ToArray();
        int c = dims[1];
        if (dims.Length == 2) return (new BatchNorm1d(c), Filled(dims, 1));
        BatchNormBase layer = new BatchNorm2d(c, memoryFormat: last ? MemoryFormat.ChannelsLast : MemoryFormat.ChannelsFirst);
        int[] shape = last ? [dims[0], dims[2], dims[3], c] : dims;
        return (layer, Filled(shape, 1));
    }

    public static long Elements(string spec) =>
        spec.Replace("-cl", "").Split('x').Select(long.Parse).Aggregate(1L, (a, b) => a * b);

    public static Tensor Filled(int[] shape, int seed)
    {
        var t = Tensor.Uninitialized(shape);
        var rng = new Random(seed);
        var span = t.Span;
        for (int i = 0; i < span.Length; i++) span[i] = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }
}
