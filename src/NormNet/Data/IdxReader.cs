using System.Buffers.Binary;
using System.IO.Compression;

namespace NormNet.Data;

/// <summary>Reads IDX files of unsigned bytes (MNIST, Fashion-MNIST, KMNIST), raw or gzipped.</summary>
/// <remarks>
/// <para>Format (big-endian): two zero bytes, an element-type byte (only 0x08, unsigned byte, is supported), a
/// dimension-count byte, one int32 per dimension, then exactly the product of the dimensions in data bytes.
/// Gzip is recognised by its magic bytes 1f 8b, whatever the file is called.</para>
/// <para>Every malformed input is an <see cref="InvalidDataException"/> whose one-line message names the file and
/// says what was expected and what was found, e.g.
/// <c>train-images-idx3-ubyte.gz: truncated: expected 47040016 bytes, found 1000016 (after gzip decompression)</c>.
/// For gzipped files the byte counts are of the decompressed contents.</para>
/// </remarks>
public static class IdxReader
{
    /// <summary>The element-type byte of unsigned-byte data, the only type read.</summary>
    public const byte UnsignedByteType = 0x08;

    private const int FirstChunk = 1 << 20;

    /// <summary>Reads an IDX file, gzipped or raw.</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="IOException">The path is a directory, device or FIFO rather than a regular file.</exception>
    /// <exception cref="InvalidDataException">The file is not a well-formed unsigned-byte IDX file.</exception>
    public static IdxFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        NormNet.IO.RegularFile.RequireForReading(path, "IDX file"); // a FIFO would block the open forever
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(stream, path);
    }

    /// <summary>Reads an IDX file, gzipped or raw, from the current position of <paramref name="stream"/> to its end.</summary>
    /// <param name="stream">The file's bytes; left open.</param>
    /// <param name="name">The file's name for error messages and <see cref="IdxFile.Name"/>.</param>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed unsigned-byte IDX file.</exception>
    public static IdxFile Read(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!stream.CanSeek)
        {
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }
        long start = stream.Position;
        Span<byte> magic = stackalloc byte[2];
        int n = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        stream.Position = start;
        if (n == 2 && magic[0] == 0x1F && magic[1] == 0x8B)
        {
            using var gzip = new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true);
            return Parse(new Input(gzip, name, gzip: true, knownLength: -1));
        }
        return Parse(new Input(stream, name, gzip: false, knownLength: stream.Length - start));
    }

    private static IdxFile Parse(Input input)
    {
        // Header: 00 00, type, rank.
        Span<byte> head = stackalloc byte[4];
        int got = input.Fill(head);
        if (got < 4)
            throw input.Error($"truncated header: expected at least 4 bytes, found {got}");
        if (head[0] != 0 || head[1] != 0)
            throw input.Error($"not an IDX file: expected magic bytes 00 00, found {head[0]:X2} {head[1]:X2}");
        if (head[2] != UnsignedByteType)
            throw input.Error(TypeMessage(head[2]));
        int rank = head[3];
        if (rank == 0)
            throw input.Error("expected at least 1 dimension, found 0");

        // One big-endian int32 per dimension, each positive, their product an array length.
        int headerLength = 4 + 4 * rank;
        Span<byte> dimBytes = stackalloc byte[4 * rank];
        got = input.Fill(dimBytes);
        if (got < dimBytes.Length)
            throw input.Error($"truncated header: expected {headerLength} bytes for {rank} dimensions, found {4 + got}");
        var dims = new int[rank];
        for (int d = 0; d < rank; d++)
        {
            dims[d] = BinaryPrimitives.ReadInt32BigEndian(dimBytes[(4 * d)..]);
            if (dims[d] <= 0)
                throw input.Error($"dimension {d} is {dims[d]}: expected a positive size");
        }
        long length = 1;
        foreach (int d in dims)
        {
            length *= d; // both factors are at most 2^31, so this cannot overflow before the check
            if (length > Array.MaxLength)
                throw input.Error($"dimensions {Tensor.Format(dims)} hold more than {Array.MaxLength} bytes, the largest array supported");
        }

        // Data: exactly `length` bytes, then the end of the file.
        long expected = headerLength + length;
        if (input.KnownLength >= 0 && input.KnownLength != expected)
            throw input.Error(input.KnownLength < expected
                ? $"truncated: expected {expected} bytes, found {input.KnownLength}"
                : $"too long: expected {expected} bytes, found {input.KnownLength}");
        var data = new byte[input.KnownLength >= 0 ? length : Math.Min(length, FirstChunk)];
        int filled = 0;
        while (true)
        {
            // Grow by doubling, so a small corrupt gzip claiming huge dimensions cannot make us allocate them.
            filled += input.Fill(data.AsSpan(filled));
            if (filled < data.Length)
                throw input.Error($"truncated: expected {expected} bytes, found {headerLength + filled}{input.CountNote}");
            if (filled == length) break;
            Array.Resize(ref data, (int)Math.Min(length, 2L * data.Length));
        }
        long extra = input.CountRest();
        if (extra > 0)
            throw input.Error($"too long: expected {expected} bytes, found {expected + extra}{input.CountNote}");
        return new IdxFile(input.Name, dims, data);
    }

    private static string TypeMessage(byte type)
    {
        string? known = type switch
        {
            0x09 => "signed byte",
            0x0B => "int16",
            0x0C => "int32",
            0x0D => "float32",
            0x0E => "float64",
            _ => null,
        };
        return known is null
            ? $"invalid element type 0x{type:X2}: expected 0x08 (unsigned byte)"
            : $"unsupported element type 0x{type:X2} ({known}): expected 0x08 (unsigned byte)";
    }

    /// <summary>The byte source with its name, turning gzip decoding failures into messages that name the file.</summary>
    private sealed class Input(Stream stream, string name, bool gzip, long knownLength)
    {
        public string Name { get; } = name;

        /// <summary>The raw length when known in advance (an uncompressed seekable stream), else -1.</summary>
        public long KnownLength { get; } = knownLength;

        public string CountNote => gzip ? " (after gzip decompression)" : "";

        /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns the count read.</summary>
        public int Fill(Span<byte> buffer)
        {
            try { return stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false); }
            catch (InvalidDataException e) when (gzip) { throw CorruptGzip(e); }
        }

        /// <summary>Reads to the end, returning how many bytes were left.</summary>
        public long CountRest()
        {
            Span<byte> scratch = stackalloc byte[4096];
            long count = 0;
            try
            {
                int n;
                while ((n = stream.Read(scratch)) > 0) count += n;
            }
            catch (InvalidDataException e) when (gzip) { throw CorruptGzip(e); }
            return count;
        }

        public InvalidDataException Error(string message) => new($"{Name}: {message}");

        private InvalidDataException CorruptGzip(InvalidDataException e) =>
            new($"{Name}: corrupt gzip stream: {e.Message.ReplaceLineEndings(" ")}", e);
    }
}
