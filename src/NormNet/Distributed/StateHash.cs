using System.Runtime.InteropServices;
using NormNet.Layers;

namespace NormNet.Distributed;

/// <summary>A 64-bit fingerprint of bits: equal inputs give equal hashes on every machine, so ranks can compare a
/// model's state (or their settings) by exchanging 8 bytes.</summary>
public static class StateHash
{
    private const ulong Prime = 0x100000001B3UL, Offset = 0xCBF29CE484222325UL;

    /// <summary>The hash of every parameter and buffer of <paramref name="model"/> (names, shapes and value bits), in state_dict order.</summary>
    public static ulong Of(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        ulong h = Offset;
        foreach (var (name, tensor, scalar) in model.StateEntries())
        {
            h = Add(h, MemoryMarshal.AsBytes(name.AsSpan()));
            if (tensor is not null)
            {
                h = Add(h, MemoryMarshal.AsBytes(tensor.Dims));
                h = Add(h, MemoryMarshal.AsBytes(tensor.ReadOnlySpan));
            }
            else h = Add(h, BitConverter.GetBytes(scalar!.Value));
        }
        return h;
    }

    /// <summary>The hash of a string's UTF-16 code units.</summary>
    public static ulong Of(string text) => Add(Offset, MemoryMarshal.AsBytes((text ?? throw new ArgumentNullException(nameof(text))).AsSpan()));

    /// <summary>Folds <paramref name="bytes"/> into <paramref name="h"/>, eight at a time (FNV-1a over words, then a final mix).</summary>
    private static ulong Add(ulong h, ReadOnlySpan<byte> bytes)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(bytes);
        foreach (ulong w in words) h = (h ^ w) * Prime;
        for (int i = words.Length * 8; i < bytes.Length; i++) h = (h ^ bytes[i]) * Prime;
        h ^= (ulong)bytes.Length;
        h = (h ^ (h >> 31)) * 0xBF58476D1CE4E5B9UL;
        return h ^ (h >> 29);
    }
}
