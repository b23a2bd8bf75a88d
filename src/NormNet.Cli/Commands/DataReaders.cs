using NormNet.Data;
using NormNet.Serialization;

namespace NormNet.Cli.Commands;

/// <summary>Reads the user's data files (CSV tables and image folders) as the data options say.</summary>
internal static class DataReaders
{
    /// <summary>Reads a CSV file or an image folder as one split; with <paramref name="reference"/> (the training split) the
    /// classes are mapped to its class names.</summary>
    public static Dataset Read(DataChoice choice, string path, Dataset? reference) =>
        throw new UsageException($"{path}: CSV files and image folders are not readable yet.");

    /// <summary>Reads a CSV file or an image folder as evaluation data for the model that <paramref name="card"/> describes.</summary>
    public static Dataset Read(DataChoice choice, string path, ModelCard card) =>
        throw new UsageException($"{path}: CSV files and image folders are not readable yet.");
}
