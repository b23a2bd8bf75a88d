namespace NormNet.Cli;

/// <summary>Ends the command with <paramref name="code"/> and prints nothing: another process (rank 0 of a distributed
/// job) has printed the one line that explains why.</summary>
internal sealed class QuietExitException(int code) : Exception($"exit {code}")
{
    public int Code { get; } = code;
}
