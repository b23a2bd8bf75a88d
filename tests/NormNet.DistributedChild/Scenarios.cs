using System.Globalization;
using NormNet.Distributed;

namespace NormNet.DistributedChild;

/// <summary>The scenarios, by name.</summary>
internal static class Scenarios
{
    public static int Run(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: NormNet.DistributedChild collectives|syncbn|train|fail ARGS...");
            return 2;
        }
        using var comm = Communicator.FromEnvironment();
        try
        {
            return args[0] switch
            {
                "collectives" => Collectives.Run(comm),
                "syncbn" => SyncBatchNormCheck.Run(comm, args[1..]),
                "train" => TrainingCheck.Run(comm, args[1..]),
                "hang" => Hang(comm),
                "bench" => Benchmark.Run(comm, args[1..]),
                _ => Fail(comm, $"unknown scenario '{args[0]}'"),
            };
        }
        catch (Exception e)
        {
            comm.Abort(1, $"rank {comm.Rank}: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }

    /// <summary>The last rank never reaches the barrier (it sleeps outside MPI, as a frozen node would): the others'
    /// watchdog must end the job.</summary>
    private static int Hang(ICommunicator comm)
    {
        if (comm.Rank == comm.Size - 1) Thread.Sleep(Timeout.Infinite);
        comm.Barrier();
        return Fail(comm, "the barrier returned without the last rank");
    }

    public static int Fail(ICommunicator comm, string message)
    {
        Console.WriteLine($"rank {comm.Rank}: FAIL {message}");
        return 1;
    }

    public static string Hex(ulong value) => value.ToString("x16", CultureInfo.InvariantCulture);
}
