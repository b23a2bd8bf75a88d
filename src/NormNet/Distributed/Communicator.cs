namespace NormNet.Distributed;

/// <summary>Chooses the communicator for this process: MPI when it was started by <c>mpiexec</c> (the process manager
/// set <c>PMI_RANK</c>/<c>PMI_SIZE</c>, or Hydra's <c>HYDRA_*</c>/<c>PMI_FD</c> variables), else the single-process one,
/// which needs no native library: the default stays pure managed.</summary>
public static class Communicator
{
    /// <summary>Whether the environment says this process was started by an MPICH-ABI launcher (Hydra's mpiexec, srun
    /// with PMI, Intel's mpirun).</summary>
    public static bool LaunchedByMpi() => Has("PMI_RANK") || Has("PMI_SIZE") || Has("PMI_FD") || Has("HYDRA_CONTROL_FD") || Has("PMIX_RANK");

    /// <summary>An <see cref="MpiCommunicator"/> when <see cref="LaunchedByMpi"/>, else <see cref="SingleProcessCommunicator.Instance"/>.</summary>
    /// <exception cref="MpiException">Started by Open MPI's launcher (another ABI), or MPI cannot be loaded or started.</exception>
    public static ICommunicator FromEnvironment()
    {
        if (Has("OMPI_COMM_WORLD_SIZE") && !LaunchedByMpi())
            throw new MpiException("This process was started by Open MPI's mpirun, whose ABI NormNet does not bind; use an MPICH-ABI " +
                "implementation (MPICH, Intel MPI, Cray MPICH, MVAPICH) and its mpiexec.");
        return LaunchedByMpi() ? new MpiCommunicator() : SingleProcessCommunicator.Instance;
    }

    private static bool Has(string name) => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name));
}
