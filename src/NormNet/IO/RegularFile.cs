using System.Runtime.InteropServices;

namespace NormNet.IO;

/// <summary>What a path names, for the reads and writes that must only touch regular files: opening a FIFO named
/// like a data file blocks forever, and renaming a new file over a device node (<c>/dev/full</c>) "succeeds"
/// while replacing the device.</summary>
/// <remarks>On Linux the type comes from <c>statx(2)</c> (its layout is the same on every architecture); elsewhere
/// only directories are told apart from files, as .NET's file attributes allow.</remarks>
internal static partial class RegularFile
{
    /// <summary>The kinds of file system entry the checks tell apart.</summary>
    internal enum Kind { Missing, Regular, Directory, CharacterDevice, BlockDevice, Fifo, Socket }

    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int ModeOffset = 28; // struct statx: u32 mask, u32 blksize, u64 attributes, u32 nlink, u32 uid, u32 gid, u16 mode

    /// <summary>The kind of entry at <paramref name="path"/>, following symbolic links.</summary>
    public static Kind KindOf(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (OperatingSystem.IsLinux() && TryStatx(path, out var kind)) return kind;
        if (Directory.Exists(path)) return Kind.Directory;
        return File.Exists(path) ? Kind.Regular : Kind.Missing;
    }

    /// <summary>Throws <see cref="FileNotFoundException"/> when nothing is at <paramref name="path"/>, and an
    /// <see cref="IOException"/> naming the kind found when it is not a regular file; <paramref name="what"/> says
    /// what the file was meant to be ("IDX file", "safetensors file").</summary>
    public static void RequireForReading(string path, string what)
    {
        var kind = KindOf(path);
        if (kind == Kind.Missing) throw new FileNotFoundException($"{path}: {what} not found.", path);
        if (kind != Kind.Regular)
            throw new IOException($"{path}: expected a regular file ({what}), found a {Describe(kind)}; refusing to read it.");
    }

    /// <summary>Throws an <see cref="IOException"/> when <paramref name="path"/> exists and is not a regular file, so
    /// that an atomic write (a rename over the path) only ever replaces a regular file.</summary>
    public static void RequireReplaceable(string path)
    {
        var kind = KindOf(path);
        if (kind is not (Kind.Missing or Kind.Regular))
            throw new IOException($"{path}: expected a regular file or no file, found a {Describe(kind)}; refusing to replace it.");
    }

    /// <summary>A few words for the kind, as messages use it.</summary>
    public static string Describe(Kind kind) => kind switch
    {
        Kind.Missing => "missing file",
        Kind.Regular => "regular file",
        Kind.Directory => "directory",
        Kind.CharacterDevice => "character device",
        Kind.BlockDevice => "block device",
        Kind.Fifo => "FIFO (named pipe)",
        _ => "socket",
    };

    private static unsafe bool TryStatx(string path, out Kind kind)
    {
        byte* buffer = stackalloc byte[256];
        int rc;
        try { rc = Statx(AtFdCwd, path, 0, StatxType, buffer); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            kind = default; // a C library without statx: fall back
            return false;
        }
        if (rc != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            kind = Kind.Missing;
            return errno is 2 or 20; // ENOENT, ENOTDIR: nothing there; anything else (ENOSYS, EACCES): fall back
        }
        int mode = *(ushort*)(buffer + ModeOffset) & 0xF000;
        kind = mode switch
        {
            0x8000 => Kind.Regular,
            0x4000 => Kind.Directory,
            0x2000 => Kind.CharacterDevice,
            0x6000 => Kind.BlockDevice,
            0x1000 => Kind.Fifo,
            _ => Kind.Socket,
        };
        return true;
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}
