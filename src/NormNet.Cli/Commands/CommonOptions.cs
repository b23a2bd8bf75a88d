using System.CommandLine;
using NormNet.Data;
using NormNet.Threading;

namespace NormNet.Cli.Commands;

/// <summary>Options shared by several commands, and their validation.</summary>
internal static class CommonOptions
{
    public static Option<string?> Data() => new("--data")
    {
        Description = "Folder with an IDX data set (train-images-idx3-ubyte[.gz], ...; e.g. the original MNIST). " +
                      $"Default: the full Fashion-MNIST in {DataSets.SystemFashionMnistDirectory} if installed (Debian package dataset-fashion-mnist), else the embedded 10,000/2,000-image subset.",
    };

    public static Option<ulong> Seed(ulong fallback = 1) => new("--seed")
    {
        Description = "Random seed (weights, data order, dropout); the same seed gives the same results.",
        DefaultValueFactory = _ => fallback,
    };

    public static Option<int?> Threads() => new("--threads")
    {
        Description = "Threads for the kernels (default: NORMNET_NUM_THREADS or all cores); results do not depend on it.",
    };

    public static Option<string?> Out(string what) => new("--out")
    {
        Description = $"Output folder for {what}.",
    };

    /// <summary>Resolves the data set, turning a missing or broken folder into a usage error.</summary>
    public static ImageDataset LoadData(string? dir)
    {
        try
        {
            return DataSets.Resolve(dir);
        }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException or InvalidDataException)
        {
            throw new UsageException($"cannot use the data set: {e.Message}");
        }
    }

    /// <summary>Enters the kernel settings that <c>--threads</c> asks for, for the command's thread (dispose to leave).</summary>
    public static ComputeSettings.Scope UseThreads(int? threads)
    {
        if (threads is not { } t) return default;
        if (t < 1) throw new UsageException($"--threads must be at least 1, got {t}.");
        return ComputeSettings.Use(ComputeSettings.Default.WithMaxThreads(t));
    }

    public static int Positive(int value, string name) =>
        value >= 1 ? value : throw new UsageException($"{name} must be at least 1, got {value}.");

    public static string DefaultOut(string prefix) =>
        Path.Combine("runs", $"{prefix}-{DateTime.Now.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture)}");
}
