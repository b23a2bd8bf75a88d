namespace NormNet.Distributed;

/// <summary>A group of cooperating processes (ranks) and the collective operations data-parallel training needs,
/// as <c>torch.distributed</c>'s process group: every rank must make the same calls in the same order with the
/// same lengths; each call returns only when all ranks have made it.</summary>
/// <remarks>Implementations: <see cref="SingleProcessCommunicator"/> (one rank; every collective is a copy or
/// nothing) and <see cref="MpiCommunicator"/> (MPI through the MPICH ABI). Get the right one for the process with
/// <see cref="Communicator.FromEnvironment"/>. Results are identical on every rank: a sum is the library's
/// reduction, which MPICH computes once per element and distributes (the tests check this bit for bit).</remarks>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's rank, in [0, <see cref="Size"/>).</summary>
    int Rank { get; }

    /// <summary>The number of ranks.</summary>
    int Size { get; }

    /// <summary>A short description ("single process", "MPI rank 1 of 4 (MPICH Version: 4.0.2)").</summary>
    string Description { get; }

    /// <summary>Replaces <paramref name="data"/> by its element-wise sum over all ranks (in place).</summary>
    void AllReduceSum(Span<float> data);

    /// <summary>Replaces <paramref name="data"/> by its element-wise sum over all ranks (in place).</summary>
    void AllReduceSum(Span<double> data);

    /// <summary>Gathers every rank's <paramref name="local"/> (the same length on all ranks) into
    /// <paramref name="all"/>, rank 0's first: <c>all.Length == Size * local.Length</c>.</summary>
    void AllGather<T>(ReadOnlySpan<T> local, Span<T> all) where T : unmanaged;

    /// <summary>Overwrites <paramref name="data"/> on every rank with <paramref name="root"/>'s.</summary>
    void Broadcast<T>(Span<T> data, int root = 0) where T : unmanaged;

    /// <summary>Returns when every rank has called it.</summary>
    void Barrier();

    /// <summary>Prints <paramref name="message"/> on this rank's standard error and ends every rank's process with
    /// <paramref name="exitCode"/>; does not return.</summary>
    void Abort(int exitCode, string message);
}
