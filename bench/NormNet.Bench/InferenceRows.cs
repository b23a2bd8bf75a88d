using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using NormNet.Deployment;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Threading;

namespace NormNet.Bench;

/// <summary>
/// Eval-mode inference of the built-in networks in NormNet and in ONNX Runtime, in one process on the same inputs: NormNet's
/// model, NormNet's model with BN folded (<see cref="BatchNormFolding.Fold"/>), NormNet's inference model (BN folded and
/// each convolution's ReLU fused into it, <see cref="InferenceModel.Create"/>), that model run by <see cref="GroupedInference"/>
/// (groups of 16 samples, each through the whole network on one worker), and ONNX Runtime on the graph NormNet exports,
/// unfolded and folded (all graph optimizations, <c>--threads</c> intra-op threads, sequential execution). Prints one JSON
/// object per (model, batch, variant): the median wall time, and the largest difference from NormNet's output.
/// </summary>
/// <remarks>dotnet bench/NormNet.Bench/bin/Release/net10.0/NormNet.Bench.dll inference-rows [--threads 2] [--filter cnn]
/// (what <see cref="InferenceCompare"/> runs, once per round and thread count).</remarks>
internal static class InferenceRows
{
    public static readonly string[] Models = ["cnn", "resnet", "mlp-sigmoid"];
    public static readonly int[] Batches = [1, 64];
    public static readonly string[] Variants =
        ["NormNet", "NormNet, BN folded", "NormNet, inference model", "NormNet, grouped", "ONNX Runtime", "ONNX Runtime, folded"];

    /// <summary>How many of <see cref="Variants"/>, from the first, are NormNet's.</summary>
    public const int NormNetVariants = 4;

    public static int Run(string[] args)
    {
        var options = new Options(args);
        int threads = options.Int("--threads", Environment.ProcessorCount);
        string filter = options.Get("--filter") ?? "";
        using var compute = ComputeSettings.Use(new ComputeSettings(threads));
        foreach (string arch in Models.Where(m => m.Contains(filter, StringComparison.Ordinal)))
        {
            var model = TrainedStatistics(arch);
            var folded = BatchNormFolding.Fold(model);
            var inference = InferenceModel.Create(model);
            var grouped = new GroupedInference(model);
            int[] sample = Architectures.InputShapeOf(arch);
            using var ort = Session(OnnxExporter.ToBytes(model, sample), threads);
            using var ortFolded = Session(OnnxExporter.ToBytes(model, sample, fold: true), threads);
            foreach (int batch in Batches)
            {
                var x = BatchNormCase.Filled([batch, .. sample], 3);
                var expected = model.Forward(x).ReadOnlySpan.ToArray();
                Emit(arch, batch, Variants[0], Time(model, x, expected));
                Emit(arch, batch, Variants[1], Time(folded, x, expected));
                Emit(arch, batch, Variants[2], Time(inference, x, expected));
                Emit(arch, batch, Variants[3], Time(grouped, x, expected));
                Emit(arch, batch, Variants[4], Time(ort, x, expected));
                Emit(arch, batch, Variants[5], Time(ortFolded, x, expected));
            }
        }
        return 0;
    }

    /// <summary>The network with BN, its running statistics moved off their initial (0, 1) by training-mode passes on
    /// random batches (so that folding changes real numbers), then in eval mode.</summary>
    private static Sequential TrainedStatistics(string arch)
    {
        var model = Architectures.Create(arch, true, new Rng(0));
        model.Train();
        var warm = BatchNormCase.Filled([32, .. Architectures.InputShapeOf(arch)], 11);
        for (int i = 0; i < 5; i++) model.Forward(warm);
        model.Eval();
        model.RequiresInputGradient = false;
        return model;
    }

    private static InferenceSession Session(byte[] onnx, int threads)
    {
        using var so = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        return new InferenceSession(onnx, so);
    }

    private static (double Ms, double MaxDiff) Time(Module model, Tensor x, float[] expected)
    {
        double diff = MaxDiff(model.Forward(x).ReadOnlySpan, expected);
        return (RowRunner.MedianMs(() => model.Forward(x), Runs(x)), diff);
    }

    /// <summary>ONNX Runtime with the input and the output bound once (no copy, no allocation of a result per call).</summary>
    private static (double Ms, double MaxDiff) Time(InferenceSession session, Tensor x, float[] expected)
    {
        var input = x.ReadOnlySpan.ToArray();
        var output = new float[expected.Length];
        long[] inShape = x.Shape.Select(d => (long)d).ToArray();
        long[] outShape = [x.Dim(0), expected.Length / x.Dim(0)];
        using var inValue = OrtValue.CreateTensorValueFromMemory(input, inShape);
        using var outValue = OrtValue.CreateTensorValueFromMemory(output, outShape);
        using var runOptions = new RunOptions();
        string[] inNames = [OnnxExporter.InputName], outNames = [OnnxExporter.OutputName];
        OrtValue[] ins = [inValue], outs = [outValue];
        void Call() => session.Run(runOptions, inNames, ins, outNames, outs);
        Call();
        double diff = MaxDiff(output, expected);
        return (RowRunner.MedianMs(Call, Runs(x)), diff);
    }

    private static int Runs(Tensor x) => x.Dim(0) == 1 ? 200 : 30;

    private static double MaxDiff(ReadOnlySpan<float> a, float[] b)
    {
        if (a.Length != b.Length) throw new InvalidOperationException($"Output of {a.Length} values, expected {b.Length}.");
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs((double)a[i] - b[i]));
        return worst;
    }

    private static void Emit(string arch, int batch, string variant, (double Ms, double MaxDiff) r) =>
        Console.WriteLine(JsonSerializer.Serialize(new { model = arch, batch, variant, median_ms = r.Ms, max_diff = r.MaxDiff }));
}

/// <summary>The inference table of issue #14: <see cref="InferenceRows"/> in a fresh process per round and thread count,
/// medians of the rounds' medians, with NormNet's speedup over ONNX Runtime on the same graph.</summary>
/// <remarks>dotnet bench/NormNet.Bench/bin/Release/net10.0/NormNet.Bench.dll inference [--threads 2,1] [--rounds 3] [--out FILE]</remarks>
internal static class InferenceCompare
{
    public static int Run(string[] args)
    {
        var options = new Options(args);
        int rounds = options.Int("--rounds", 3);
        string filter = options.Get("--filter") ?? "";
        var report = new System.Text.StringBuilder();
        foreach (int threads in options.Ints("--threads", [2, 1]))
        {
            var times = new Dictionary<(string, int, string), List<double>>();
            var diffs = new Dictionary<(string, int, string), double>();
            for (int r = 0; r < rounds; r++)
            {
                Console.Error.WriteLine($"[inference, threads {threads}] round {r + 1}/{rounds}");
                foreach (var line in Compare.RunSelfPublic($"inference-rows --threads {threads} --filter \"{filter}\"").Split('\n'))
                {
                    if (!line.StartsWith('{')) continue;
                    var e = JsonDocument.Parse(line).RootElement;
                    var key = (e.GetProperty("model").GetString()!, e.GetProperty("batch").GetInt32(), e.GetProperty("variant").GetString()!);
                    if (!times.TryGetValue(key, out var list)) times[key] = list = [];
                    list.Add(e.GetProperty("median_ms").GetDouble());
                    diffs[key] = Math.Max(diffs.GetValueOrDefault(key), e.GetProperty("max_diff").GetDouble());
                }
            }
            report.AppendLine($"Threads: {threads} (NormNet's MaxThreads and ONNX Runtime's intra-op threads). Median of {rounds} rounds' medians, ms; speedup = ONNX Runtime's best / NormNet's best.");
            report.AppendLine();
            report.AppendLine($"| model (eval mode) | batch | {string.Join(" | ", InferenceRows.Variants)} | speedup | largest output difference |");
            report.AppendLine("|---|---:" + string.Concat(Enumerable.Repeat("|---:", InferenceRows.Variants.Length + 2)) + "|");
            foreach (string arch in InferenceRows.Models)
                foreach (int batch in InferenceRows.Batches)
                {
                    if (!times.ContainsKey((arch, batch, InferenceRows.Variants[0]))) continue;
                    double[] m = InferenceRows.Variants.Select(v => Median(times[(arch, batch, v)])).ToArray();
                    double ours = m[..InferenceRows.NormNetVariants].Min(), theirs = m[InferenceRows.NormNetVariants..].Min();
                    double diff = InferenceRows.Variants.Max(v => diffs[(arch, batch, v)]);
                    report.AppendLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {arch} | {batch} | {string.Join(" | ", m.Select(v => RowRunner.Format(v)))} | {theirs / ours:F2}x | {diff:G2} |"));
                }
            report.AppendLine();
        }
        Console.Write(report.ToString());
        if (options.Get("--out") is { } outPath) File.WriteAllText(outPath, report.ToString());
        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[sorted.Count / 2];
    }
}
