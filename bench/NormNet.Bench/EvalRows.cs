using System.Globalization;
using NormNet.Models;
using NormNet.Threading;

namespace NormNet.Bench;

/// <summary>The eval-mode forward of a built-in network on fixed random images: the median of 20 calls, printed as one line.</summary>
/// <remarks>dotnet bench/NormNet.Bench/bin/Release/net10.0/NormNet.Bench.dll eval --arch cnn --batch 64 [--threads 2] [--folded]</remarks>
internal static class EvalRows
{
    public static int Run(string[] args)
    {
        var options = new Options(args);
        using var compute = ComputeSettings.Use(new ComputeSettings(options.Int("--threads", Environment.ProcessorCount)));
        string arch = options.Get("--arch") ?? "cnn";
        int batch = options.Int("--batch", 64);
        var model = Architectures.Create(arch, true, new Rng(0));
        model.Eval();
        model.RequiresInputGradient = false;
        var x = BatchNormCase.Filled([batch, .. Architectures.InputShapeOf(arch)], 3);
        double ms = RowRunner.MedianMs(() => model.Forward(x), 20);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{arch} eval batch {batch} threads {ComputeSettings.Current.MaxThreads}: {ms:F3} ms"));
        return 0;
    }
}
