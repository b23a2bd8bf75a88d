using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;

namespace NormNet.Bench;

/// <summary>
/// The machine's measured single-precision FMA peak: 12 independent chains of 16-wide fused multiply-adds per thread
/// (enough to hide the FMA latency on two pipes), no memory traffic, on 1 thread and then on 1..threads at once, best of
/// 5 rounds of 0.1 s each. The ceiling against which the convolutions' GFLOP/s are read (BENCHMARKS.md, issue #14):
/// on a VM whose vCPUs share a core, two threads give less than twice one.
/// </summary>
/// <remarks>dotnet bench/NormNet.Bench/bin/Release/net10.0/NormNet.Bench.dll peak [--threads 2]</remarks>
internal static class FmaPeak
{
    private const long Steps = 20_000_000;

    public static int Run(string[] args)
    {
        int threads = new Options(args).Int("--threads", Environment.ProcessorCount);
        if (!Vector512.IsHardwareAccelerated)
        {
            Console.WriteLine("fma peak: Vector512 is not accelerated on this machine; not measured");
            return 0;
        }
        Chains(1000); // compiled before timing
        for (int t = 1; t <= threads; t++)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"fma peak, {t} thread{(t > 1 ? "s" : "")}: {Measure(t):F1} GFLOP/s"));
        return 0;
    }

    /// <summary>GFLOP/s of <paramref name="threads"/> threads each running the chains at once, best of 5 rounds.</summary>
    private static double Measure(int threads)
    {
        double best = 0;
        for (int round = 0; round < 5; round++)
        {
            var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() => Chains(Steps))).ToArray();
            var clock = Stopwatch.StartNew();
            foreach (var w in workers) w.Start();
            foreach (var w in workers) w.Join();
            // 12 chains x 16 lanes x 2 flops per step
            best = Math.Max(best, threads * Steps * 12 * 16 * 2 / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>a_i = a_i * m + c for 12 independent 16-wide accumulators, <paramref name="steps"/> times.</summary>
    private static float Chains(long steps)
    {
        var m = Vector512.Create(0.999999f);
        var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512<float>.One, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < steps; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c); a2 = Vector512.FusedMultiplyAdd(a2, m, c);
            a3 = Vector512.FusedMultiplyAdd(a3, m, c); a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c); a8 = Vector512.FusedMultiplyAdd(a8, m, c);
            a9 = Vector512.FusedMultiplyAdd(a9, m, c); a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
        }
        // the sum keeps the chains live
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
