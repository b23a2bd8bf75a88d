using NormNet.Distributed;

namespace NormNet.DistributedChild;

/// <summary>Allreduce (float, double), allgather, broadcast and barrier against values every rank can compute itself.</summary>
internal static class Collectives
{
    public static int Run(ICommunicator comm)
    {
        int r = comm.Rank, n = comm.Size;
        var errors = new List<string>();
        // float and double sums of small integers are exact, so any reduction order gives the same value
        var f = new float[1000];
        for (int i = 0; i < f.Length; i++) f[i] = i * (r + 1);
        comm.AllReduceSum(f);
        for (int i = 0; i < f.Length; i++)
            if (f[i] != i * n * (n + 1) / 2f) { errors.Add($"float allreduce [{i}]: expected {i * n * (n + 1) / 2f}, got {f[i]}"); break; }
        var d = new double[3000001]; // above MPICH's short-message threshold: the large-message algorithm
        for (int i = 0; i < d.Length; i++) d[i] = r + 0.5;
        comm.AllReduceSum(d);
        double expected = n * (n - 1) / 2.0 + 0.5 * n;
        if (d[0] != expected || d[^1] != expected) errors.Add($"double allreduce: expected {expected}, got {d[0]} and {d[^1]}");
        var gathered = new long[2 * n];
        comm.AllGather<long>([r, 100L * r], gathered);
        for (int k = 0; k < n; k++)
            if (gathered[2 * k] != k || gathered[2 * k + 1] != 100L * k) errors.Add($"allgather: rank {k}'s entry is ({gathered[2 * k]}, {gathered[2 * k + 1]})");
        var b = new int[] { r == n - 1 ? 42 : -1, r == n - 1 ? 7 : -1 };
        comm.Broadcast<int>(b, root: n - 1);
        if (b[0] != 42 || b[1] != 7) errors.Add($"broadcast from rank {n - 1}: expected (42, 7), got ({b[0]}, {b[1]})");
        comm.Barrier();
        foreach (var e in errors) Console.WriteLine($"rank {r}: FAIL {e}");
        Console.WriteLine($"rank {r}: {(errors.Count == 0 ? "ok" : "failed")} of {n} ({comm.Description})");
        return errors.Count == 0 ? 0 : 1;
    }
}
