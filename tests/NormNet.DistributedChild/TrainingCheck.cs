using System.Globalization;
using NormNet.Distributed;

namespace NormNet.DistributedChild;

/// <summary>Trains <see cref="TrainingRecipe"/> data-parallel; rank 0 prints every step's global loss ("loss STEP VALUE"),
/// and every rank checks that all ranks' parameters and buffers were bit-identical after every step.
/// Arguments: FAMILY sync|local STEPS GLOBAL_BATCH.</summary>
internal static class TrainingCheck
{
    public static int Run(ICommunicator comm, string[] args)
    {
        string family = args[0];
        bool sync = args[1] == "sync";
        int steps = int.Parse(args[2], CultureInfo.InvariantCulture), batch = int.Parse(args[3], CultureInfo.InvariantCulture);
        var trainer = TrainingRecipe.Create(family, batch, comm, sync);
        var hashes = new ulong[steps];
        for (int s = 0; s < steps; s++)
        {
            var result = trainer.RunStep();
            hashes[s] = StateHash.Of(trainer.Model);
            if (comm.Rank == 0) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loss {result.Step} {result.Loss:R}"));
        }
        var all = new ulong[steps * comm.Size];
        comm.AllGather<ulong>(hashes, all);
        for (int s = 0; s < steps; s++)
            for (int r = 0; r < comm.Size; r++)
                if (all[r * steps + s] != hashes[s])
                    return Scenarios.Fail(comm, $"the state after step {s + 1} differs between rank {r} and rank {comm.Rank}");
        var time = trainer.Parallel!.CommunicationTime;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"rank {comm.Rank}: ok {steps} steps identical on {comm.Size} ranks ({family}, {(sync ? "SyncBN" : "per-rank BN")}), {time.TotalMilliseconds / steps:0.00} ms/step in gradient collectives"));
        return 0;
    }
}
