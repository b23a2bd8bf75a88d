using BenchmarkDotNet.Running;
using NormNet.Bench;

// dotnet run -c Release --project bench/NormNet.Bench -- compare [--threads 2,1] [--rounds 3] [--filter TEXT] [--out FILE]
//     NormNet and the PyTorch peer on the same rows, alternating, with medians and ratios (see BENCHMARKS.md).
// dotnet run -c Release --project bench/NormNet.Bench -- compare --mnist  (adds the whole mnist experiment against PyTorch's loop)
// dotnet run -c Release --project bench/NormNet.Bench -- rows --threads 2 [--filter TEXT]
//     NormNet's rows only, one JSON object per line (what compare runs).
// dotnet run -c Release --project bench/NormNet.Bench -- inference [--threads 2,1] [--rounds 3] [--out FILE]
//     eval-mode cnn, resnet and mlp-sigmoid at batch 1 and 64: NormNet, NormNet folded, ONNX Runtime, ONNX Runtime folded.
// dotnet run -c Release --project bench/NormNet.Bench -- peak [--threads 2]
//     the measured FMA peak (GFLOP/s) on 1 thread and on 1..threads at once: the ceiling for the convolutions.
// dotnet run -c Release --project bench/NormNet.Bench -- [BenchmarkDotNet arguments, e.g. --filter *BatchNorm*]
return args.FirstOrDefault() switch
{
    "compare" => Compare.Run(args[1..]),
    "rows" => RowRunner.Run(args[1..]),
    "stream" => StreamProbe.Run(args[1..]),
    "peak" => FmaPeak.Run(args[1..]),
    "profile" => ConvProfile.Run(args[1..]),
    "eval" => EvalRows.Run(args[1..]),
    "inference" => InferenceCompare.Run(args[1..]),
    "inference-rows" => InferenceRows.Run(args[1..]),
    "normnet" => NormNet.Cli.Cli.Run(args[1..]),
    _ => RunBenchmarkDotNet(args),
};

static int RunBenchmarkDotNet(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(BatchNormBenchmarks).Assembly).Run(args, new BandwidthConfig());
    return 0;
}
