namespace NormNet.Data;

/// <summary>Refuses a CSV whose header row is longer than a limit before the parser buffers it: a file with no line end
/// (or a crafted single-line header of gigabytes) would otherwise be read whole into memory.</summary>
internal static class CsvHeaderGuard
{
    /// <summary>Scans at most <paramref name="maxBytes"/> + 1 bytes for the end of the first row (a line end outside quotes).</summary>
    /// <exception cref="InvalidDataException">The header row is longer than <paramref name="maxBytes"/>.</exception>
    public static void Check(string path, int maxBytes)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var buffer = new byte[1 << 16];
        bool quoted = false;
        long seen = 0;
        while (seen <= maxBytes)
        {
            int n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, maxBytes + 1L - seen));
            if (n == 0) return;
            for (int i = 0; i < n; i++)
            {
                byte b = buffer[i];
                if (b == (byte)'"') quoted = !quoted;
                else if (!quoted && (b == (byte)'\n' || b == (byte)'\r')) return;
            }
            seen += n;
        }
        throw new InvalidDataException(
            $"{path}:1: the header row is longer than {maxBytes:N0} bytes (CsvOptions.MaxHeaderBytes): expected a header of column names and a line end.");
    }
}
