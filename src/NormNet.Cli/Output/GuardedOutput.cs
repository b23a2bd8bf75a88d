using System.Text;

namespace NormNet.Cli.Output;

/// <summary>The standard output, with a write that fails (stdout closed with <c>&gt;&amp;-</c>, a pipe whose reader
/// quit as in <c>| head -c1</c>) turned into a <see cref="CommandFailedException"/> that says so, printed as one line
/// with exit code 1 instead of a .NET error about an access to a path.</summary>
internal sealed class GuardedOutput(TextWriter inner) : TextWriter
{
    public override Encoding Encoding => inner.Encoding;

    public override void Write(char value) => Guard(() => inner.Write(value));

    public override void Write(string? value) => Guard(() => inner.Write(value));

    public override void Write(char[] buffer, int index, int count) => Guard(() => inner.Write(buffer, index, count));

    public override void WriteLine(string? value) => Guard(() => inner.WriteLine(value));

    public override void Flush() => Guard(inner.Flush);

    private static void Guard(Action write)
    {
        try { write(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            throw new CommandFailedException($"cannot write the output: the standard output is closed or its reader has gone ({e.InnerException?.Message ?? e.Message}).");
        }
    }
}
