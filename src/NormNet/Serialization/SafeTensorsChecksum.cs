using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace NormNet.Serialization;

/// <summary>
/// The SHA-256 that NormNet writes into a safetensors file's metadata (<see cref="MetadataKey"/>) and checks on
/// reading, so that a flipped bit in a weight, a counter or a generator state, which the format alone cannot
/// notice, is refused instead of loaded as a different model. Files written elsewhere (PyTorch) have none and are
/// read as they are.
/// </summary>
/// <remarks>The hash is over the parsed contents, not the bytes: every tensor sorted by name (name, dtype, shape,
/// data), then every metadata entry except the checksum itself sorted by key, each string and array prefixed by its
/// length. An edit that leaves the contents identical (white space in the header) therefore still matches.</remarks>
public static class SafeTensorsChecksum
{
    /// <summary>The metadata key that holds the lower-case hex SHA-256.</summary>
    public const string MetadataKey = "normnet_sha256";

    /// <summary>The checksum of these contents (<see cref="MetadataKey"/> in <paramref name="metadata"/> is ignored).</summary>
    public static string Compute(IEnumerable<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(entries);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var sorted = entries.OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
        AppendLength(hash, sorted.Count);
        foreach (var e in sorted)
        {
            AppendString(hash, e.Name);
            AppendString(hash, e.DType);
            AppendLength(hash, e.Shape.Length);
            foreach (int d in e.Shape) AppendLength(hash, d);
            AppendLength(hash, e.Data.Length);
            hash.AppendData(e.Data);
        }
        var meta = (metadata ?? new Dictionary<string, string>()).Where(m => m.Key != MetadataKey)
            .OrderBy(m => m.Key, StringComparer.Ordinal).ToList();
        AppendLength(hash, meta.Count);
        foreach (var (key, value) in meta)
        {
            AppendString(hash, key);
            AppendString(hash, value);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Throws an <see cref="InvalidDataException"/> naming <paramref name="source"/> when the metadata holds a
    /// checksum that the contents do not match; does nothing for a file without one.</summary>
    public static void Verify(IReadOnlyList<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string> metadata, string source)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (!metadata.TryGetValue(MetadataKey, out var stored)) return;
        string actual = Compute(entries, metadata);
        if (!string.Equals(stored, actual, StringComparison.Ordinal))
            throw new InvalidDataException(
                $"{source}: the contents do not match the file's checksum ({MetadataKey} {Shorten(stored)}, contents hash to {actual[..12]}...): " +
                "the file was changed or corrupted after it was written.");
    }

    private static string Shorten(string s) => s.Length > 12 ? s[..12] + "..." : s;

    private static void AppendString(IncrementalHash hash, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        AppendLength(hash, bytes.Length);
        hash.AppendData(bytes);
    }

    private static void AppendLength(IncrementalHash hash, long n)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, n);
        hash.AppendData(b);
    }
}
