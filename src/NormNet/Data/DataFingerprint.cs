using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace NormNet.Data;

/// <summary>A content hash of a split, so that a checkpoint can tell whether it is resumed or evaluated on the data it was
/// trained on.</summary>
public static class DataFingerprint
{
    /// <summary>The first 16 hex digits of the SHA-256 of the split's task, sample shape, class or target names, targets and
    /// features (as the loader sees them), e.g. <c>sha256:3f5e0c1a9b2d4e77</c>.</summary>
    public static string Of(Dataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes(
            $"{data.Task}|{data.ShapeString}|{string.Join('\u001f', data.ClassNames)}|{string.Join('\u001f', data.TargetNames)}|{data.Count}"));
        hash.AppendData(MemoryMarshal.AsBytes(data.Labels));
        hash.AppendData(MemoryMarshal.AsBytes(data.Targets));
        var row = new float[data.FeatureCount];
        for (int i = 0; i < data.Count; i++)
        {
            data.CopyFeatures(i, row);
            hash.AppendData(MemoryMarshal.AsBytes(row.AsSpan()));
        }
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }
}
