namespace NormNet.Distributed;

/// <summary>The handles and constants of the MPICH ABI (MPICH 3.1 and later, Intel MPI, Cray MPICH, MVAPICH: the
/// libraries whose <c>libmpi.so.12</c> can replace one another), as <c>mpi.h</c> of MPICH 4.0.2 defines them.</summary>
/// <remarks>MPICH's handles are 32-bit integers with the kind and size encoded in their bits, and they are fixed by
/// the ABI, so no header is needed at run time. Checked against /usr/include/x86_64-linux-gnu/mpich/mpi.h (Debian's
/// libmpich-dev 4.0.2); the tests check the datatype sizes against the loaded library (<c>MPI_Type_size</c>).</remarks>
internal static class MpiAbi
{
    public const int Success = 0;
    public const int CommWorld = 0x44000000;

    public const int Byte = 0x4c00010d;
    public const int Int = 0x4c000405;
    public const int Long = 0x4c000807;
    public const int Float = 0x4c00040a;
    public const int Double = 0x4c00080b;

    public const int Sum = 0x58000003;
    public const int Max = 0x58000001;

    public const int ErrorsReturn = 0x54000001;
    public const int ThreadSerialized = 2;
    public const int MaxErrorString = 512;

    /// <summary>MPI_IN_PLACE, <c>(void*)-1</c>.</summary>
    public static readonly unsafe void* InPlace = (void*)-1;
}
