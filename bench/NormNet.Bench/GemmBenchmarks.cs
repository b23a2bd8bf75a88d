using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using NormNet.Kernels;
using NormNet.Threading;

namespace NormNet.Bench;

/// <summary>
/// BenchmarkDotNet benchmarks of <see cref="Gemm.Sgemm"/> on the products of the paper's MLP (batch 60), a CNN
/// at batch 128 (conv2 by im2col, per image and batched, its backward, the fc layer) and large squares, for the
/// managed and OpenBLAS backends at 1 and 2 threads. The GFLOP/s column is 2*m*n*k / mean time.
/// </summary>
/// <remarks>Run with <c>-- --filter *Gemm*</c>. The OpenBLAS cases fail at setup where OpenBLAS is not installed.</remarks>
[Config(typeof(GflopsConfig))]
public class GemmBenchmarks
{
    private float[] _a = [], _b = [], _c = [];
    private GemmShape _s;

    /// <summary>"MxNxK:XY": C (M x N) = op(A) (M x K) * op(B) (K x N), X/Y = N or T for op(A)/op(B).</summary>
    [Params(
        "60x100x784:NT", "60x100x100:NT", "60x10x100:NT",    // MLP forward: X * W^T
        "60x784x100:NN", "100x784x60:TN",                   // MLP backward: dX = dY * W, dW += dY^T * X
        "64x196x288:NN", "64x25088x288:NN",                 // conv2 by im2col: W * cols, per image and batched
        "64x288x196:NT", "288x196x64:TN",                   // conv2 backward: dW += dY * cols^T, dcols = W^T * dY
        "128x128x3136:NT",                                  // fc forward
        "512x512x512:NN", "1024x1024x1024:NN", "2048x2048x2048:NN")]
    public string Shape { get; set; } = "60x100x784:NT";

    [Params(GemmBackend.Managed, GemmBackend.OpenBlas)]
    public GemmBackend Backend { get; set; }

    private ComputeSettings _settings = ComputeSettings.Default;

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _settings = new ComputeSettings(Threads, Backend);
        _s = GemmShape.Parse(Shape);
        _a = Filled(_s.M * _s.K, 1);
        _b = Filled(_s.K * _s.N, 2);
        _c = new float[_s.M * _s.N];
    }

    [Benchmark]
    public void Sgemm()
    {
        using var compute = ComputeSettings.Use(_settings);
        Gemm.Sgemm(_s.TransA, _s.TransB, _s.M, _s.N, _s.K, 1f, _a, _s.TransA ? _s.M : _s.K, _b, _s.TransB ? _s.K : _s.N, 0f, _c, _s.N);
    }

    private static float[] Filled(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>Adds the GFLOP/s column.</summary>
    private sealed class GflopsConfig : ManualConfig
    {
        public GflopsConfig() => AddColumn(new GflopsColumn());
    }

    private sealed class GflopsColumn : IColumn
    {
        public string Id => "GFLOPs";
        public string ColumnName => "GFLOP/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "2*m*n*k floating-point operations per second of mean time";
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is null || benchmarkCase.Parameters["Shape"] is not string shape) return "-";
            return (GemmShape.Parse(shape).Flops / (report.ResultStatistics.Mean * 1e-9) / 1e9).ToString("F1");
        }
    }
}

/// <summary>A GEMM shape parsed from "MxNxK:XY".</summary>
internal readonly record struct GemmShape(int M, int N, int K, bool TransA, bool TransB)
{
    public double Flops => 2.0 * M * N * K;

    public static GemmShape Parse(string spec)
    {
        string[] parts = spec.Split(':');
        int[] d = parts[0].Split('x').Select(int.Parse).ToArray();
        string t = parts.Length > 1 ? parts[1] : "NN";
        return new GemmShape(d[0], d[1], d[2], t[0] == 'T', t[1] == 'T');
    }
}
