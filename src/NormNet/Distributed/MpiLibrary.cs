using System.Runtime.InteropServices;
using System.Text;

namespace NormNet.Distributed;

/// <summary>The MPI C functions NormNet calls, bound at run time from a library with the MPICH ABI
/// (<c>libmpi.so.12</c>), so that a process not started by <c>mpiexec</c> never needs MPI installed.</summary>
/// <remarks>The library is the one named by <see cref="PathVariable"/> if set, else the first of
/// <see cref="Names"/> that loads. Every function is a raw function pointer; none of them is called before
/// <see cref="Load"/> has found them all.</remarks>
internal sealed unsafe class MpiLibrary
{
    /// <summary>The environment variable that names the MPI library to load (a file name or a path).</summary>
    public const string PathVariable = "NORMNET_MPI_LIBRARY";

    /// <summary>The names tried in order: the ABI's name, then MPICH's own (Debian installs only libmpich.so.12
    /// without the -dev package).</summary>
    public static readonly IReadOnlyList<string> Names = ["libmpi.so.12", "libmpich.so.12", "libmpi.so", "libmpich.so"];

    private MpiLibrary(string name, nint handle)
    {
        Name = name;
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Export(handle, "MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Export(handle, "MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Export(handle, "MPI_Finalized");
        Finalize = (delegate* unmanaged<int>)Export(handle, "MPI_Finalize");
        CommRank = (delegate* unmanaged<int, int*, int>)Export(handle, "MPI_Comm_rank");
        CommSize = (delegate* unmanaged<int, int*, int>)Export(handle, "MPI_Comm_size");
        CommSetErrhandler = (delegate* unmanaged<int, int, int>)Export(handle, "MPI_Comm_set_errhandler");
        TypeSize = (delegate* unmanaged<int, int*, int>)Export(handle, "MPI_Type_size");
        Allreduce = (delegate* unmanaged<void*, void*, int, int, int, int, int>)Export(handle, "MPI_Allreduce");
        Allgather = (delegate* unmanaged<void*, int, int, void*, int, int, int, int>)Export(handle, "MPI_Allgather");
        Bcast = (delegate* unmanaged<void*, int, int, int, int, int>)Export(handle, "MPI_Bcast");
        Barrier = (delegate* unmanaged<int, int>)Export(handle, "MPI_Barrier");
        Abort = (delegate* unmanaged<int, int, int>)Export(handle, "MPI_Abort");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Export(handle, "MPI_Error_string");
        GetLibraryVersion = (delegate* unmanaged<byte*, int*, int>)Export(handle, "MPI_Get_library_version");
    }

    /// <summary>The library's name or path as loaded.</summary>
    public string Name { get; }

    // int MPI_Init_thread(int *argc, char ***argv, int required, int *provided)
    public readonly delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public readonly delegate* unmanaged<int*, int> Initialized, Finalized;
    public readonly delegate* unmanaged<int> Finalize;
    // int MPI_Comm_rank(MPI_Comm comm, int *rank); MPI_Comm_size likewise
    public readonly delegate* unmanaged<int, int*, int> CommRank, CommSize;
    public readonly delegate* unmanaged<int, int, int> CommSetErrhandler;
    public readonly delegate* unmanaged<int, int*, int> TypeSize;
    // int MPI_Allreduce(const void *sendbuf, void *recvbuf, int count, MPI_Datatype, MPI_Op, MPI_Comm)
    public readonly delegate* unmanaged<void*, void*, int, int, int, int, int> Allreduce;
    // int MPI_Allgather(const void *sendbuf, int sendcount, MPI_Datatype, void *recvbuf, int recvcount, MPI_Datatype, MPI_Comm)
    public readonly delegate* unmanaged<void*, int, int, void*, int, int, int, int> Allgather;
    // int MPI_Bcast(void *buffer, int count, MPI_Datatype, int root, MPI_Comm)
    public readonly delegate* unmanaged<void*, int, int, int, int, int> Bcast;
    public readonly delegate* unmanaged<int, int> Barrier;
    // int MPI_Abort(MPI_Comm comm, int errorcode)
    public readonly delegate* unmanaged<int, int, int> Abort;
    // int MPI_Error_string(int errorcode, char *string, int *resultlen)
    public readonly delegate* unmanaged<int, byte*, int*, int> ErrorString;
    public readonly delegate* unmanaged<byte*, int*, int> GetLibraryVersion;

    /// <summary>Loads the MPI library and binds its functions.</summary>
    /// <exception cref="MpiException">No library loads, or one lacks a function (not the MPICH ABI).</exception>
    public static MpiLibrary Load()
    {
        string? chosen = Environment.GetEnvironmentVariable(PathVariable);
        IReadOnlyList<string> names = string.IsNullOrEmpty(chosen) ? Names : [chosen];
        foreach (var name in names)
        {
            if (!NativeLibrary.TryLoad(name, out nint handle)) continue;
            try { return new MpiLibrary(name, handle); }
            catch (EntryPointNotFoundException e)
            {
                throw new MpiException($"{name} loaded but is not an MPI library with the MPICH ABI: {e.Message}", e);
            }
        }
        throw new MpiException($"This process was started by mpiexec, but no MPI library with the MPICH ABI loads: tried " +
            $"{string.Join(", ", names)}. Install MPICH (Debian/Ubuntu: apt-get install mpich) or set {PathVariable} to the path of libmpi.so.12.");
    }

    /// <summary>Throws an <see cref="MpiException"/> naming <paramref name="call"/> unless <paramref name="code"/> is MPI_SUCCESS.</summary>
    public void Check(int code, string call)
    {
        if (code != MpiAbi.Success) throw new MpiException($"{call} failed with error {code}: {Describe(code)}");
    }

    /// <summary>The library's text for an error code.</summary>
    public string Describe(int code)
    {
        byte* text = stackalloc byte[MpiAbi.MaxErrorString + 1];
        int length = 0;
        return ErrorString(code, text, &length) == MpiAbi.Success ? Encoding.UTF8.GetString(text, Math.Clamp(length, 0, MpiAbi.MaxErrorString)) : "(no description)";
    }

    /// <summary>The library's version string (MPI_Get_library_version), first line.</summary>
    public string Version()
    {
        byte* text = stackalloc byte[8192];
        int length = 0;
        Check(GetLibraryVersion(text, &length), "MPI_Get_library_version");
        return string.Join(" ", Encoding.UTF8.GetString(text, Math.Clamp(length, 0, 8191)).Split('\n')[0].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
    }

    private static nint Export(nint handle, string name) => NativeLibrary.GetExport(handle, name);
}
