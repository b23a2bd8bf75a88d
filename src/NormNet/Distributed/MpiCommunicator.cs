using System.Globalization;
using System.Runtime.InteropServices;

namespace NormNet.Distributed;

/// <summary>MPI_COMM_WORLD through a library with the MPICH ABI (MPICH 4.x, Intel MPI, Cray MPICH, MVAPICH), loaded at
/// run time: what <see cref="Communicator.FromEnvironment"/> returns in a process started by <c>mpiexec</c>.</summary>
/// <remarks><para>Creating it initializes MPI (MPI_THREAD_SERIALIZED: NormNet's worker threads never call MPI) and
/// sets MPI_ERRORS_RETURN, so a failed call throws an <see cref="MpiException"/> with MPICH's text;
/// <see cref="Dispose"/> finalizes MPI. MPI can be initialized only once per process.</para>
/// <para>Every collective runs under a <see cref="CollectiveWatchdog"/>, so a job whose peer vanished ends
/// instead of hanging forever.</para></remarks>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    /// <summary>Elements per MPI call: MPI counts are ints, so larger spans go in pieces.</summary>
    private const int MaxCount = 1 << 30;

    private readonly MpiLibrary _mpi;
    private readonly CollectiveWatchdog _watchdog;
    private bool _disposed;

    /// <summary>Loads the MPI library and initializes MPI.</summary>
    /// <exception cref="MpiException">No MPI library with the MPICH ABI loads, or MPI_Init_thread fails.</exception>
    public MpiCommunicator()
    {
        _mpi = MpiLibrary.Load();
        int initialized = 0, provided = 0, rank = 0, size = 0;
        _mpi.Check(_mpi.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0) _mpi.Check(_mpi.InitThread(null, null, MpiAbi.ThreadSerialized, &provided), "MPI_Init_thread");
        _mpi.Check(_mpi.CommSetErrhandler(MpiAbi.CommWorld, MpiAbi.ErrorsReturn), "MPI_Comm_set_errhandler");
        _mpi.Check(_mpi.CommRank(MpiAbi.CommWorld, &rank), "MPI_Comm_rank");
        _mpi.Check(_mpi.CommSize(MpiAbi.CommWorld, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        LibraryVersion = _mpi.Version();
        CheckAbi();
        _watchdog = new CollectiveWatchdog(rank, CollectiveWatchdog.TimeoutFromEnvironment());
    }

    /// <inheritdoc />
    public int Rank { get; }

    /// <inheritdoc />
    public int Size { get; }

    /// <summary>The first line of MPI_Get_library_version.</summary>
    public string LibraryVersion { get; }

    /// <summary>The library file that was loaded.</summary>
    public string LibraryName => _mpi.Name;

    /// <inheritdoc />
    public string Description => string.Create(CultureInfo.InvariantCulture, $"MPI rank {Rank} of {Size} ({LibraryVersion})");

    /// <summary>Asks the library the size of each datatype handle NormNet uses (MPI_Type_size): a library of another
    /// ABI, whose handles mean something else, fails here rather than corrupting data.</summary>
    private void CheckAbi()
    {
        foreach (var (name, handle, expected) in new[] { ("MPI_BYTE", MpiAbi.Byte, 1), ("MPI_FLOAT", MpiAbi.Float, 4), ("MPI_DOUBLE", MpiAbi.Double, 8) })
        {
            int size = 0;
            _mpi.Check(_mpi.TypeSize(handle, &size), $"MPI_Type_size({name})");
            if (size != expected)
                throw new MpiException($"{_mpi.Name}: {name} (0x{handle:x8}) has {size} bytes, expected {expected}: not the MPICH ABI.");
        }
    }

    /// <inheritdoc />
    public void AllReduceSum(Span<float> data)
    {
        fixed (float* p = data) AllReduce(p, data.Length, sizeof(float), MpiAbi.Float);
    }

    /// <inheritdoc />
    public void AllReduceSum(Span<double> data)
    {
        fixed (double* p = data) AllReduce(p, data.Length, sizeof(double), MpiAbi.Double);
    }

    private void AllReduce(void* data, int count, int elementSize, int datatype)
    {
        ThrowIfDisposed();
        using var _ = _watchdog.Enter("MPI_Allreduce");
        for (int start = 0; start < count; start += MaxCount)
        {
            int n = Math.Min(MaxCount, count - start);
            _mpi.Check(_mpi.Allreduce(MpiAbi.InPlace, (byte*)data + (long)start * elementSize, n, datatype, MpiAbi.Sum, MpiAbi.CommWorld), "MPI_Allreduce");
        }
    }

    /// <inheritdoc />
    public void AllGather<T>(ReadOnlySpan<T> local, Span<T> all) where T : unmanaged
    {
        ThrowIfDisposed();
        CommunicatorChecks.GatherLength(local.Length, all.Length, Size);
        var bytes = MemoryMarshal.AsBytes(local);
        if (bytes.Length > MaxCount) throw new ArgumentException($"AllGather: expected at most {MaxCount} bytes per rank, got {bytes.Length}.", nameof(local));
        using var _ = _watchdog.Enter("MPI_Allgather");
        fixed (byte* send = bytes)
        fixed (byte* receive = MemoryMarshal.AsBytes(all))
            _mpi.Check(_mpi.Allgather(send, bytes.Length, MpiAbi.Byte, receive, bytes.Length, MpiAbi.Byte, MpiAbi.CommWorld), "MPI_Allgather");
    }

    /// <inheritdoc />
    public void Broadcast<T>(Span<T> data, int root = 0) where T : unmanaged
    {
        ThrowIfDisposed();
        CommunicatorChecks.Root(root, Size);
        var bytes = MemoryMarshal.AsBytes(data);
        using var _ = _watchdog.Enter("MPI_Bcast");
        fixed (byte* p = bytes)
            for (int start = 0; start < bytes.Length; start += MaxCount)
                _mpi.Check(_mpi.Bcast(p + start, Math.Min(MaxCount, bytes.Length - start), MpiAbi.Byte, root, MpiAbi.CommWorld), "MPI_Bcast");
    }

    /// <inheritdoc />
    public void Barrier()
    {
        ThrowIfDisposed();
        using var _ = _watchdog.Enter("MPI_Barrier");
        _mpi.Check(_mpi.Barrier(MpiAbi.CommWorld), "MPI_Barrier");
    }

    /// <inheritdoc />
    public void Abort(int exitCode, string message)
    {
        Console.Error.WriteLine(message);
        Console.Error.Flush();
        _mpi.Abort(MpiAbi.CommWorld, exitCode);
        Environment.Exit(exitCode); // MPI_Abort does not return; this is in case a library's does
    }

    /// <summary>Finalizes MPI (once); later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _watchdog.Dispose();
        int finalized = 0;
        if (_mpi.Finalized(&finalized) == MpiAbi.Success && finalized == 0) _mpi.Finalize();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
