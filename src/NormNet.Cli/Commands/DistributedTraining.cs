using System.Globalization;
using System.Text;
using NormNet.Distributed;
using NormNet.Layers;

namespace NormNet.Cli.Commands;

/// <summary>What <c>mpiexec -n N normnet train</c> adds to a run: the ranks agree on the run before training,
/// failures on one rank end the job with a line naming it, and a mismatch is reported once, by rank 0.</summary>
internal static class DistributedTraining
{
    /// <summary>Runs <paramref name="body"/> on every rank. An error that every rank sees alike (a mismatch between
    /// ranks, bad usage found before any collective) is printed by rank 0 alone; any other error on one rank prints
    /// "normnet: rank R: ..." and aborts the job (MPI_Abort), so no rank waits forever for it.</summary>
    public static int Guard(ICommunicator comm, Func<int> body)
    {
        if (comm.Size == 1) return body();
        try { return body(); }
        catch (RankMismatchException e)
        {
            if (comm.Rank == 0) throw new UsageException(e.Message);
            throw new QuietExitException(2);
        }
        catch (Exception e)
        {
            string text = e is UsageException or CommandFailedException ? e.Message : $"{e.GetType().Name.Replace("Exception", "")} error: {e.Message}";
            comm.Abort(e is UsageException ? 2 : 1, $"normnet: rank {comm.Rank} of {comm.Size}: {text} (stopping all ranks)");
            throw; // not reached: Abort ends the process
        }
    }

    /// <summary>Checks that every rank runs the same settings (<paramref name="runText"/>: settings, steps, options,
    /// data fingerprint) and the same model state (after initialization or the resumed checkpoint), by comparing
    /// hashes with rank 0's.</summary>
    public static void CheckSameRun(ICommunicator comm, string runText, Module model)
    {
        RankAgreement.Check(comm, StateHash.Of(runText), "settings (command-line options, data or checkpoint)");
        RankAgreement.Check(comm, StateHash.Of(model), "initial model (parameters and buffers)");
    }

    /// <summary>One line for rank 0's log: the ranks with their process ids and hosts (a collective: call on every rank),
    /// so that a launcher's report of a dead process id names the rank.</summary>
    public static string Describe(ICommunicator comm, int batchSize, bool syncBn)
    {
        const int hostBytes = 64;
        var mine = new byte[8 + hostBytes];
        BitConverter.GetBytes((long)Environment.ProcessId).CopyTo(mine, 0);
        var host = Encoding.UTF8.GetBytes(Environment.MachineName);
        host.AsSpan(0, Math.Min(hostBytes, host.Length)).CopyTo(mine.AsSpan(8));
        var all = new byte[mine.Length * comm.Size];
        comm.AllGather<byte>(mine, all);
        var ranks = Enumerable.Range(0, comm.Size).Select(r =>
        {
            var part = all.AsSpan(r * mine.Length, mine.Length);
            string name = Encoding.UTF8.GetString(part[8..]).TrimEnd('\0');
            return string.Create(CultureInfo.InvariantCulture, $"{r}: pid {BitConverter.ToInt64(part[..8])} on {name}");
        });
        return string.Create(CultureInfo.InvariantCulture,
            $"Data-parallel: {comm.Size} ranks ({comm.Description.Split('(').Last().TrimEnd(')')}), global batch {batchSize} " +
            $"({batchSize / comm.Size}{(batchSize % comm.Size != 0 ? "-" + (batchSize / comm.Size + 1) : "")} per rank), " +
            $"{(syncBn ? "SyncBatchNorm" : "per-rank batch norm (--sync-bn for global statistics)")}; ranks {string.Join(", ", ranks)}.");
    }
}
