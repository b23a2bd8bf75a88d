namespace NormNet.Cli;

/// <summary>A command that ran but has no trustworthy result to give (e.g. a model whose outputs are not finite):
/// printed as one line, exit code 1.</summary>
internal sealed class CommandFailedException(string message) : Exception(message);
