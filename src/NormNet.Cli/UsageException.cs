namespace NormNet.Cli;

/// <summary>Bad usage the parser cannot see (an unknown architecture, a missing data folder, a checkpoint of
/// another architecture): printed as one line, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
