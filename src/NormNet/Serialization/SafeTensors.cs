using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;
using NormNet.IO;

namespace NormNet.Serialization;

/// <summary>
/// Reads and writes the safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON
/// header mapping each name to its dtype, shape and byte range (plus an optional string map under
/// <c>__metadata__</c>), then the raw little-endian tensor bytes.
/// </summary>
/// <remarks>Reading validates everything before returning anything: a truncated file, a header that is not UTF-8
/// JSON, a duplicate name, an unknown dtype, a shape whose size overflows or does not match its bytes, overlapping
/// or out-of-range data, or contents that do not match NormNet's checksum (<see cref="SafeTensorsChecksum"/>) is an
/// <see cref="InvalidDataException"/> naming the file and tensor. Only regular files are read. Writing is atomic
/// (see <see cref="AtomicFile"/>) and adds the checksum to the metadata.</remarks>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100_000_000;

    /// <summary>Bytes per element of a safetensors dtype name.</summary>
    public static int SizeOf(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" => 1,
        _ => throw new InvalidDataException($"Unknown safetensors dtype '{dtype}'."),
    };

    /// <summary>Reads and validates a file.</summary>
    /// <param name="path">A regular file (a FIFO or device is refused before it is opened, so it cannot block).</param>
    /// <param name="verifyChecksum">Whether to check the contents against the checksum NormNet wrote, if any;
    /// false only to inspect a file known to be damaged.</param>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="IOException">The path is not a regular file.</exception>
    /// <exception cref="InvalidDataException">The file is not valid; the message names it.</exception>
    public static SafeTensorsFile Load(string path, bool verifyChecksum = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        RegularFile.RequireForReading(path, "safetensors file");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new FileNotFoundException($"Checkpoint file not found: {path}", path); }
        return Parse(bytes, path, verifyChecksum);
    }

    /// <summary>Parses and validates the bytes of a file; <paramref name="source"/> names it in errors.</summary>
    public static SafeTensorsFile Parse(byte[] bytes, string source, bool verifyChecksum = true)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length < 8)
            throw new InvalidDataException($"{source}: not a safetensors file: {bytes.Length} bytes, shorter than the 8-byte header length.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > bytes.Length - 8)
            throw new InvalidDataException($"{source}: header length {headerLength} exceeds the file's {bytes.Length - 8} remaining bytes (truncated or not safetensors).");
        int dataStart = 8 + (int)headerLength;
        long dataLength = bytes.Length - dataStart;
        if (!Utf8.IsValid(bytes.AsSpan(8, (int)headerLength)))
            throw new InvalidDataException($"{source}: the header is not valid UTF-8 (safetensors headers are UTF-8 JSON).");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength)); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: the header is not valid JSON ({e.Message})."); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{source}: the header must be a JSON object.");
            var metadata = new Dictionary<string, string>();
            var entries = new List<SafeTensorsEntry>();
            var ranges = new List<(long Start, long End, string Name)>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(property.Name))
                    throw new InvalidDataException($"{source}: the header names '{property.Name}' twice (duplicate tensor names).");
                if (property.Name == "__metadata__")
                {
                    ReadMetadata(property.Value, metadata, source);
                    continue;
                }
                var (dtype, shape, start, end) = ReadEntryHeader(property, source);
                if (end > dataLength)
                    throw new InvalidDataException($"{source}: tensor '{property.Name}' ends at byte {end} but the data section has {dataLength} bytes (truncated file?).");
                var data = bytes.AsSpan(dataStart + (int)start, (int)(end - start)).ToArray();
                try { entries.Add(new SafeTensorsEntry(property.Name, dtype, shape, data)); }
                catch (ArgumentException e) { throw new InvalidDataException($"{source}: {e.Message}"); }
                ranges.Add((start, end, property.Name));
            }
            ranges.Sort((a, b) => a.Start.CompareTo(b.Start));
            long expected = 0;
            foreach (var (start, end, name) in ranges)
            {
                if (start != expected)
                    throw new InvalidDataException($"{source}: tensor '{name}' starts at byte {start}; expected {expected} (overlapping or gapped data).");
                expected = end;
            }
            if (expected != dataLength)
                throw new InvalidDataException($"{source}: the data section has {dataLength} bytes but the tensors cover {expected}.");
            if (verifyChecksum) SafeTensorsChecksum.Verify(entries, metadata, source);
            return new SafeTensorsFile(entries, metadata);
        }
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string source)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{source}: __metadata__ must be an object of strings.");
        foreach (var m in value.EnumerateObject())
        {
            if (m.Value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{source}: metadata value '{m.Name}' is not a string.");
            if (!metadata.TryAdd(m.Name, m.Value.GetString()!))
                throw new InvalidDataException($"{source}: the metadata names '{m.Name}' twice.");
        }
    }

    private static (string DType, int[] Shape, long Start, long End) ReadEntryHeader(JsonProperty property, string source)
    {
        string name = property.Name;
        try
        {
            var e = property.Value;
            string dtype = e.GetProperty("dtype").GetString() ?? throw new InvalidDataException("null dtype");
            int size = SizeOf(dtype);
            var shape = e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
            if (shape.Any(d => d < 0)) throw new InvalidDataException($"negative dimension in shape {Tensor.Format(shape)}");
            var offsets = e.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
                throw new InvalidDataException("data_offsets must be [begin, end] with 0 <= begin <= end");
            long bytes = size;
            foreach (int d in shape)
                if (d != 0 && bytes > long.MaxValue / d) // 65536^4 elements would wrap around to 0 bytes
                    throw new InvalidDataException($"shape {Tensor.Format(shape)} of {dtype} holds more bytes than a file can");
                else bytes *= d;
            if (bytes != offsets[1] - offsets[0])
                throw new InvalidDataException($"shape {Tensor.Format(shape)} of {dtype} needs {bytes} bytes but data_offsets span {offsets[1] - offsets[0]}");
            return (dtype, shape, offsets[0], offsets[1]);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or InvalidDataException)
        {
            throw new InvalidDataException($"{source}: bad header entry for tensor '{name}': {e.Message}.");
        }
    }

    /// <summary>Serializes entries and metadata to the safetensors byte layout.</summary>
    /// <remarks>The metadata gets <see cref="SafeTensorsChecksum.MetadataKey"/>, the checksum of the contents.</remarks>
    public static byte[] Serialize(IEnumerable<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = entries.ToList();
        var names = new HashSet<string>();
        foreach (var e in list)
            if (!names.Add(e.Name) || e.Name == "__metadata__") throw new ArgumentException($"Duplicate or reserved tensor name '{e.Name}'.");
        metadata = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>())
        {
            [SafeTensorsChecksum.MetadataKey] = SafeTensorsChecksum.Compute(list, metadata),
        };
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in list)
            {
                json.WriteStartObject(e.Name);
                json.WriteString("dtype", e.DType);
                json.WriteStartArray("shape");
                foreach (int d in e.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + e.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += e.Data.Length;
            }
            json.WriteEndObject();
        }
        int pad = (int)((8 - header.Length % 8) % 8);
        for (int i = 0; i < pad; i++) header.WriteByte((byte)' ');
        using var output = new MemoryStream();
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        output.Write(length);
        header.Position = 0;
        header.CopyTo(output);
        foreach (var e in list) output.Write(e.Data);
        return output.ToArray();
    }

    /// <summary>Writes a file atomically: a crash mid-write leaves any previous file at <paramref name="path"/> intact.</summary>
    public static void Save(string path, IEnumerable<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata = null) =>
        AtomicFile.WriteAllBytes(path, Serialize(entries, metadata));

}
