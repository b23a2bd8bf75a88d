using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Text.Json;
using NormNet.Threading;

namespace NormNet.Bench;

/// <summary>
/// A STREAM-like memory-bandwidth probe (read, copy, triad over 64M-float arrays, far beyond L3), best of
/// 10, in the same process model as the kernels, so kernel GB/s can be quoted as a fraction of it.
/// </summary>
internal static unsafe class StreamProbe
{
    private const long N = 64L * 1024 * 1024;
    private const int Chunks = 64;

    private struct Args
    {
        public float* A, B, C;
        public double* Partial;
    }

    public static int Run(string[] args)
    {
        var options = new Options(args);
        using var compute = ComputeSettings.Use(new ComputeSettings(options.Int("--threads", Environment.ProcessorCount)));
        var (read, copy, triad) = Measure();
        Console.WriteLine(JsonSerializer.Serialize(new { read_gbs = read, copy_gbs = copy, triad_gbs = triad }));
        return 0;
    }

    public static (double Read, double Copy, double Triad) Measure()
    {
        var a = GC.AllocateUninitializedArray<float>((int)N, pinned: true);
        var b = GC.AllocateUninitializedArray<float>((int)N, pinned: true);
        var c = GC.AllocateUninitializedArray<float>((int)N, pinned: true);
        var partial = new double[Chunks];
        fixed (float* pa = a, pb = b, pc = c)
        fixed (double* pp = partial)
        {
            var s = new Args { A = pa, B = pb, C = pc, Partial = pp };
            Parallelism.For(Chunks, &s, &Init);
            double bestRead = double.MaxValue, bestCopy = double.MaxValue, bestTriad = double.MaxValue;
            for (int k = 0; k < 10; k++)
            {
                bestCopy = Math.Min(bestCopy, Time(&s, &Copy));
                bestTriad = Math.Min(bestTriad, Time(&s, &Triad));
                bestRead = Math.Min(bestRead, Time(&s, &Read));
            }
            return (4.0 * N / bestRead / 1e9, 8.0 * N / bestCopy / 1e9, 12.0 * N / bestTriad / 1e9);
        }
    }

    private static double Time(Args* s, delegate*<void*, int, void> body)
    {
        long t = Stopwatch.GetTimestamp();
        Parallelism.For(Chunks, s, body);
        return Stopwatch.GetElapsedTime(t).TotalSeconds;
    }

    private static (long Start, long End) Range(int chunk) => (chunk * (N / Chunks), (chunk + 1) * (N / Chunks));

    private static void Init(void* p, int chunk)
    {
        var s = (Args*)p;
        var (i0, i1) = Range(chunk);
        for (long i = i0; i < i1; i++) { s->A[i] = 1; s->B[i] = 2; s->C[i] = 0; }
    }

    private static void Copy(void* p, int chunk)
    {
        var s = (Args*)p;
        var (i0, i1) = Range(chunk);
        for (long i = i0; i < i1; i += 16) Vector512.Store(Vector512.Load(s->A + i), s->C + i);
    }

    private static void Triad(void* p, int chunk)
    {
        var s = (Args*)p;
        var (i0, i1) = Range(chunk);
        var k = Vector512.Create(1.5f);
        for (long i = i0; i < i1; i += 16)
            Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(s->B + i), k, Vector512.Load(s->A + i)), s->C + i);
    }

    private static void Read(void* p, int chunk)
    {
        var s = (Args*)p;
        var (i0, i1) = Range(chunk);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (long i = i0; i < i1; i += 64)
        {
            a0 += Vector512.Load(s->A + i);
            a1 += Vector512.Load(s->A + i + 16);
            a2 += Vector512.Load(s->A + i + 32);
            a3 += Vector512.Load(s->A + i + 48);
        }
        s->Partial[chunk] = Vector512.Sum(a0 + a1 + a2 + a3);
    }
}
