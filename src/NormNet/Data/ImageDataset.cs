using System.Globalization;

namespace NormNet.Data;

/// <summary>A labelled image data set in the MNIST layout: a training split and a test split of equal image size.</summary>
/// <remarks>Load one from a folder with <see cref="FromDirectory"/>, or let <c>DataSets.Resolve</c> (in NormNet.Samples) choose.</remarks>
public sealed class ImageDataset
{
    /// <summary>The standard name of the training images file (optionally followed by <c>.gz</c>).</summary>
    public const string TrainImagesFile = "train-images-idx3-ubyte";

    /// <summary>The standard name of the training labels file (optionally followed by <c>.gz</c>).</summary>
    public const string TrainLabelsFile = "train-labels-idx1-ubyte";

    /// <summary>The standard name of the test images file (optionally followed by <c>.gz</c>).</summary>
    public const string TestImagesFile = "t10k-images-idx3-ubyte";

    /// <summary>The standard name of the test labels file (optionally followed by <c>.gz</c>).</summary>
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte";

    /// <summary>The four standard file names, in the order train images, train labels, test images, test labels.</summary>
    public static IReadOnlyList<string> StandardFiles { get; } = [TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile];

    /// <summary>Creates a data set from its two splits, which must have the same image size and class count.</summary>
    /// <param name="name">What the data is, e.g. "Fashion-MNIST".</param>
    /// <param name="source">Where it came from, e.g. a folder.</param>
    /// <param name="train">The training split.</param>
    /// <param name="test">The test split.</param>
    public ImageDataset(string name, string source, ImageSet train, ImageSet test)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        if (test.Height != train.Height || test.Width != train.Width)
            throw new InvalidDataException(
                $"{source}: test images are {test.Height}x{test.Width}: expected the training images' size, {train.Height}x{train.Width}.");
        if (test.ClassCount != train.ClassCount)
            throw new ArgumentException($"{source}: the test split has {test.ClassCount} classes, the training split {train.ClassCount}.");
        Name = name;
        Source = source;
        Train = train;
        Test = test;
    }

    /// <summary>Loads the four standard files (each raw or <c>.gz</c>) from a folder.</summary>
    /// <param name="directory">The folder holding the files.</param>
    /// <param name="name">What the data is; defaults to "MNIST-format data".</param>
    /// <param name="classCount">The number of classes; every label must be below it. Null (the default) takes one more than
    /// the largest label of either split.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">One of the four files is missing; the message names it.</exception>
    /// <exception cref="InvalidDataException">A file is malformed or the files disagree; the message names the file.</exception>
    public static ImageDataset FromDirectory(string directory, string? name = null, int? classCount = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{directory}: data directory not found.");
        var paths = new string[StandardFiles.Count];
        for (int i = 0; i < paths.Length; i++)
            paths[i] = FindFile(directory, StandardFiles[i])
                ?? throw new FileNotFoundException(
                    $"{directory}: missing {StandardFiles[i]} (or {StandardFiles[i]}.gz).", Path.Combine(directory, StandardFiles[i]));
        var files = paths.Select(IdxReader.Read).ToArray();
        int classes = classCount ?? 1 + files[1].Bytes.Concat(files[3].Bytes).DefaultIfEmpty().Max();
        var train = ImageSet.FromIdx(files[0], files[1], classes);
        var test = ImageSet.FromIdx(files[2], files[3], classes);
        return new ImageDataset(name ?? "MNIST-format data", Path.GetFullPath(directory), train, test);
    }

    /// <summary>Whether <paramref name="directory"/> exists and holds all four standard files (raw or <c>.gz</c>).</summary>
    public static bool HasStandardFiles(string directory) =>
        Directory.Exists(directory) && StandardFiles.All(f => FindFile(directory, f) is not null);

    /// <summary>What the data is, e.g. "Fashion-MNIST".</summary>
    public string Name { get; }

    /// <summary>Where the data came from: a folder, or the embedded resources.</summary>
    public string Source { get; }

    /// <summary>The training split.</summary>
    public ImageSet Train { get; }

    /// <summary>The test split.</summary>
    public ImageSet Test { get; }

    /// <summary>One line saying which data this is, e.g.
    /// <c>Fashion-MNIST (/usr/share/datasets/fashion-mnist): 60,000 train / 10,000 test images of 28x28, 10 classes</c>.</summary>
    public string Description => string.Create(CultureInfo.InvariantCulture,
        $"{Name} ({Source}): {Train.Count:N0} train / {Test.Count:N0} test images of {Train.Height}x{Train.Width}, {Train.ClassCount} classes");

    /// <inheritdoc />
    public override string ToString() => Description;

    /// <summary>The path of <paramref name="file"/> in <paramref name="directory"/>, raw preferred over <c>.gz</c>; null if neither exists.</summary>
    private static string? FindFile(string directory, string file)
    {
        string raw = Path.Combine(directory, file);
        if (File.Exists(raw)) return raw;
        string gz = raw + ".gz";
        return File.Exists(gz) ? gz : null;
    }
}
