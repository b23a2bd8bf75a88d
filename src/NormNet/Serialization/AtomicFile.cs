using System.Diagnostics;
using System.Globalization;
using NormNet.IO;

namespace NormNet.Serialization;

/// <summary>Writes files so that readers see either the old or the new contents, never a partial file.</summary>
public static class AtomicFile
{
    /// <summary>Writes to a temporary file in the same folder, flushes it to disk, then renames it over <paramref name="path"/>.</summary>
    /// <remarks>A rename within one file system is atomic on Linux and macOS, and File.Move with overwrite uses
    /// MoveFileEx(REPLACE_EXISTING) on Windows. If the process dies before the rename, the old file is untouched and
    /// only a temporary file <c>.NAME.PID.GUID.tmp</c> is left behind; the next write of the same path deletes those
    /// whose process is gone (a live writer's are left alone). Only a regular file is ever replaced: a directory,
    /// device or FIFO at <paramref name="path"/> is an <see cref="IOException"/> naming it.</remarks>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        RegularFile.RequireReplaceable(full);
        Directory.CreateDirectory(dir);
        DeleteStaleTemporaries(dir, Path.GetFileName(full));
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            RegularFile.RequireReplaceable(full); // again: something may have appeared there while we wrote
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Writes text atomically (UTF-8).</summary>
    public static void WriteAllText(string path, string text) =>
        WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Deletes the temporary files of earlier writes of <paramref name="fileName"/> whose writing process no
    /// longer exists (killed mid-write); returns how many were deleted.</summary>
    internal static int DeleteStaleTemporaries(string dir, string fileName)
    {
        if (!Directory.Exists(dir)) return 0;
        int deleted = 0;
        string prefix = $".{fileName}.";
        foreach (string temp in Directory.EnumerateFiles(dir, $"{prefix}*.tmp"))
        {
            string[] parts = Path.GetFileName(temp)[prefix.Length..].Split('.');
            if (parts.Length != 3 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue; // not ours
            if (pid == Environment.ProcessId || IsRunning(pid)) continue;
            try
            {
                File.Delete(temp);
                deleted++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // cleaned by another process, or not ours to delete
        }
        return deleted;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; } // no such process
        catch (InvalidOperationException) { return false; }
    }
}
