using System.Diagnostics;
using NormNet.Data;
using NormNet.IO;
using NormNet.Serialization;

namespace NormNet.Tests.Serialization;

/// <summary>Issue #15: atomic writes replace only regular files and clean up after killed writers; readers open only
/// regular files, so a FIFO named like a data file cannot hang them.</summary>
public sealed class RegularFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-files-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Fifo(string name)
    {
        string path = Path.Combine(_dir, name);
        using var mkfifo = Process.Start("mkfifo", [path])!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }

    /// <summary>Runs <paramref name="action"/> with a deadline: a call that blocks on a FIFO fails the test instead of hanging it.</summary>
    private static T Within<T>(Action action) where T : Exception
    {
        var task = Task.Run(() => Assert.Throws<T>(action));
        Assert.True(task.Wait(TimeSpan.FromSeconds(20)), "the call blocked (opened a FIFO?)");
        return task.Result;
    }

    [Fact]
    public void KindOf_TellsRegularFilesFromDevicesFifosAndDirectories()
    {
        string file = Path.Combine(_dir, "f");
        File.WriteAllText(file, "x");
        Assert.Equal(RegularFile.Kind.Regular, RegularFile.KindOf(file));
        Assert.Equal(RegularFile.Kind.Directory, RegularFile.KindOf(_dir));
        Assert.Equal(RegularFile.Kind.Missing, RegularFile.KindOf(Path.Combine(_dir, "none")));
        Assert.Equal(RegularFile.Kind.Missing, RegularFile.KindOf(Path.Combine(file, "below-a-file")));
        if (!OperatingSystem.IsLinux()) return;
        Assert.Equal(RegularFile.Kind.CharacterDevice, RegularFile.KindOf("/dev/full"));
        Assert.Equal(RegularFile.Kind.Fifo, RegularFile.KindOf(Fifo("p")));
        // /dev/full itself is never written to in a test: refusing it is checked on the check alone
        Assert.Contains("found a character device; refusing to replace it", Assert.Throws<IOException>(() => RegularFile.RequireReplaceable("/dev/full")).Message);
    }

    [Fact]
    public void AtomicWrite_OverAFifoOrADirectory_IsRefused_AndLeavesItAlone()
    {
        if (!OperatingSystem.IsLinux()) return;
        string fifo = Fifo("model.onnx");
        var e = Within<IOException>(() => AtomicFile.WriteAllBytes(fifo, [1, 2, 3]));
        Assert.Contains(fifo, e.Message);
        Assert.Contains("FIFO", e.Message);
        Assert.Equal(RegularFile.Kind.Fifo, RegularFile.KindOf(fifo));
        string dir = Path.Combine(_dir, "folder");
        Directory.CreateDirectory(dir);
        Assert.Contains("found a directory", Assert.Throws<IOException>(() => AtomicFile.WriteAllBytes(dir, [1])).Message);
        Assert.True(Directory.Exists(dir));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp", SearchOption.AllDirectories)); // refused before any temporary file
    }

    [Fact]
    public void StaleTemporariesOfDeadWriters_AreCleanedOnTheNextSave_ALiveWritersAreKept()
    {
        string path = Path.Combine(_dir, "checkpoint.safetensors");
        using var dead = Process.Start("true")!;
        dead.WaitForExit();
        string stale = Path.Combine(_dir, $".checkpoint.safetensors.{dead.Id}.{Guid.NewGuid():N}.tmp");
        string mine = Path.Combine(_dir, $".checkpoint.safetensors.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        string other = Path.Combine(_dir, $".other.safetensors.{dead.Id}.{Guid.NewGuid():N}.tmp");
        foreach (var f in new[] { stale, mine, other }) File.WriteAllText(f, "partial");
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        Assert.False(File.Exists(stale), "a dead writer's temporary file was left behind");
        Assert.True(File.Exists(mine), "a live writer's temporary file was deleted");
        Assert.True(File.Exists(other), "another file's temporary was touched");
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
    }

    [Fact]
    public void Readers_RefuseAFifo_InsteadOfBlocking()
    {
        if (!OperatingSystem.IsLinux()) return;
        string idx = Fifo("train-images-idx3-ubyte");
        Assert.Contains("expected a regular file (IDX file), found a FIFO", Within<IOException>(() => IdxReader.Read(idx)).Message);
        string st = Fifo("model.safetensors");
        Assert.Contains("found a FIFO", Within<IOException>(() => SafeTensors.Load(st)).Message);
        Assert.Contains("found a directory", Assert.Throws<IOException>(() => SafeTensors.Load(_dir)).Message);
        Assert.Throws<FileNotFoundException>(() => SafeTensors.Load(Path.Combine(_dir, "none.safetensors")));
    }
}
