using System.Globalization;

namespace NormNet.Cli.Commands;

/// <summary>An exclusive lock on a run folder for as long as a training run writes to it, so that a second
/// <c>normnet train</c> on the same <c>--out</c> fails at once, naming the holder, instead of both losing results.</summary>
/// <remarks>The lock is an open, exclusively shared <c>.normnet.lock</c> file (on Linux and macOS .NET takes a
/// <c>flock</c> on it), released by the operating system when the process ends, even by <c>kill -9</c>; the holder's
/// pid and start time are in <c>.normnet.lock.owner</c> beside it.</remarks>
internal sealed class RunLock : IDisposable
{
    private const string LockFile = ".normnet.lock";
    private const string OwnerFile = ".normnet.lock.owner";
    private readonly FileStream _stream;
    private readonly string _owner;

    private RunLock(FileStream stream, string owner) => (_stream, _owner) = (stream, owner);

    /// <summary>Takes the lock of <paramref name="dir"/> (created if missing), or fails with a usage error naming the holder.</summary>
    public static RunLock Acquire(string dir)
    {
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, LockFile), owner = Path.Combine(dir, OwnerFile);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
        }
        catch (IOException)
        {
            string holder = File.Exists(owner) ? File.ReadAllText(owner).Trim() : "another process";
            throw new UsageException($"{dir} is in use by another normnet train ({holder}); wait for it to finish or choose another --out.");
        }
        File.WriteAllText(owner, string.Create(CultureInfo.InvariantCulture,
            $"pid {Environment.ProcessId}, started {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC"));
        return new RunLock(stream, owner);
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose()
    {
        try { File.Delete(_owner); }
        catch (IOException) { } // the next holder overwrites it
        _stream.Dispose();
    }
}
