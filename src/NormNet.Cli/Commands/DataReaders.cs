using NormNet.Data;
using NormNet.Images;
using NormNet.Serialization;

namespace NormNet.Cli.Commands;

/// <summary>Reads the user's data files, CSV tables and image folders, as the data options say.</summary>
internal static class DataReaders
{
    /// <summary>Reads a CSV file or an image folder as one split; with <paramref name="reference"/> (the training split) the
    /// columns, classes, channels and image size must match it.</summary>
    public static Dataset Read(DataChoice choice, string path, Dataset? reference)
    {
        if (IsCsv(path))
        {
            var options = new CsvOptions { LabelColumns = choice.Label is null ? null : CsvOptions.ParseColumnList(choice.Label), Task = choice.Task };
            return reference is TensorSet table ? CsvDataset.ReadLike(path, table, options) : CsvDataset.Read(path, options);
        }
        if (Directory.Exists(path))
        {
            if (choice.Task != TaskKind.Classification) throw new UsageException($"{path}: an image folder is a classification task (one class per sub-folder); drop --task regression.");
            var options = new ImageFolderOptions
            {
                Channels = choice.Color switch { "grey" => 1, "rgb" => 3, _ => null },
                Size = choice.ImageSize is [int h, int w] ? new ImageSize(h, w) : null,
                SkipBadFiles = choice.SkipBadFiles,
            };
            var result = reference is ImageSet images ? ImageFolder.ReadLike(path, images, options with { Channels = images.Channels })
                : ImageFolder.Read(path, options);
            foreach (var skipped in result.Skipped) Console.Error.WriteLine($"normnet: warning: skipped {skipped.Path}: {skipped.Reason}");
            return result.Images;
        }
        throw new UsageException($"{path}: expected a .csv file, a folder of class sub-folders of images, or a folder of IDX files.");
    }

    /// <summary>Reads a CSV file or an image folder as evaluation data for the model that <paramref name="card"/> describes.</summary>
    public static Dataset Read(DataChoice choice, string path, ModelCard card) => Read(choice, path, Reference(card));

    /// <summary>A one-sample split with the card's columns, classes and shape, to read other files like the training data.</summary>
    public static Dataset Reference(ModelCard card)
    {
        int[] shape = card.DataShape;
        int features = shape.Aggregate(1, (a, d) => a * d);
        if (card.ScalePixels && shape.Length == 3)
            return new ImageSet(new byte[features], [0], shape[0], shape[1], shape[2], card.ClassNames, "the model's training data");
        var featureNames = card.FeatureNames.Count == features ? card.FeatureNames : null;
        return card.Task == TaskKind.Classification
            ? TensorSet.ForClassification(new float[features], shape, [0], card.ClassNames, "the model's training data", featureNames)
            : TensorSet.ForRegression(new float[features], shape, new float[card.TargetNames.Count], card.TargetNames, "the model's training data", featureNames);
    }

    public static bool IsCsv(string path) => File.Exists(path) && path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase);
}
