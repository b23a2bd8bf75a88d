using System.Globalization;

namespace NormNet.Distributed;

/// <summary>Checks that all ranks hold the same thing (settings, a model, parameters), by gathering a 64-bit hash from
/// every rank; a mismatch raises the same <see cref="RankMismatchException"/> on every rank, so no rank is left waiting.</summary>
public static class RankAgreement
{
    /// <summary>Throws a <see cref="RankMismatchException"/> on every rank unless all ranks passed the same <paramref name="hash"/>.</summary>
    /// <param name="comm">The ranks.</param>
    /// <param name="hash">This rank's hash of <paramref name="what"/>.</param>
    /// <param name="what">What was hashed, for the message ("the settings and model").</param>
    public static void Check(ICommunicator comm, ulong hash, string what)
    {
        ArgumentNullException.ThrowIfNull(comm);
        var all = new ulong[comm.Size];
        comm.AllGather<ulong>([hash], all);
        var differing = Enumerable.Range(0, comm.Size).Where(r => all[r] != all[0]).ToArray();
        if (differing.Length == 0) return;
        throw new RankMismatchException(string.Create(CultureInfo.InvariantCulture,
            $"the {what} on rank{(differing.Length > 1 ? "s" : "")} {string.Join(", ", differing)} of {comm.Size} differ from rank 0's " +
            $"(hash {all[differing[0]]:x16}, rank 0 has {all[0]:x16}); every rank must run the same command on the same files."));
    }
}

/// <summary>The ranks of a job disagree (different settings, model or parameters); raised on every rank alike.</summary>
public sealed class RankMismatchException(string message) : Exception(message);
