namespace NormNet.Data;

/// <summary>Finds the data to train on: an explicit folder, else the installed full Fashion-MNIST, else the
/// Fashion-MNIST subset embedded in this assembly (NormNet.Samples, not the core library) (so a program needs no download and no working directory).</summary>
public static class DataSets
{
    /// <summary>Where the Debian package <c>dataset-fashion-mnist</c> installs the full Fashion-MNIST.</summary>
    public const string SystemFashionMnistDirectory = "/usr/share/datasets/fashion-mnist";

    private const string ResourcePrefix = "NormNet.Data.FashionMnistSubset.";
    private const string EmbeddedSource = "embedded in NormNet.Samples.dll";

    /// <summary>Chooses and loads a data set; its <see cref="ImageDataset.Description"/> says which one it is.</summary>
    /// <param name="dataDir">A folder with the four standard IDX files (e.g. the original MNIST), or null (or blank)
    /// to choose automatically. A folder that is given but missing, or lacks a file, is an error, not a fallback.</param>
    /// <param name="systemDirectory">Where to look for the full Fashion-MNIST when no folder is given (tests
    /// override it); null skips that step.</param>
    /// <returns>The explicit folder's data; else the full Fashion-MNIST if all four files are in
    /// <paramref name="systemDirectory"/>; else the embedded subset (10,000 train / 2,000 test images).</returns>
    /// <exception cref="DirectoryNotFoundException">The given folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The given folder lacks one of the four files.</exception>
    /// <exception cref="InvalidDataException">A file of the chosen data set is malformed.</exception>
    public static ImageDataset Resolve(string? dataDir, string? systemDirectory = SystemFashionMnistDirectory)
    {
        if (!string.IsNullOrWhiteSpace(dataDir))
            return ImageDataset.FromDirectory(dataDir);
        if (systemDirectory is not null && ImageDataset.HasStandardFiles(systemDirectory))
            return ImageDataset.FromDirectory(systemDirectory, "Fashion-MNIST");
        return FashionMnistSubset();
    }

    /// <summary>Loads the Fashion-MNIST subset embedded in this assembly (NormNet.Samples, not the core library): 10,000 training and 2,000 test images of
    /// 28x28 (1,000 and 200 per class), chosen as described in <c>data/fashion-mnist-subset/README.md</c>.</summary>
    /// <remarks>Fashion-MNIST is Copyright (c) 2017 Zalando SE, under the MIT licence (<see cref="FashionMnistLicense"/>).</remarks>
    public static ImageDataset FashionMnistSubset()
    {
        var train = ImageSet.FromIdx(ReadResource(ImageDataset.TrainImagesFile + ".gz"), ReadResource(ImageDataset.TrainLabelsFile + ".gz"));
        var test = ImageSet.FromIdx(ReadResource(ImageDataset.TestImagesFile + ".gz"), ReadResource(ImageDataset.TestLabelsFile + ".gz"));
        return new ImageDataset("Fashion-MNIST subset", EmbeddedSource, train, test);
    }

    /// <summary>The licence of the embedded Fashion-MNIST subset (MIT, Copyright (c) 2017 Zalando SE), which travels with it.</summary>
    public static string FashionMnistLicense
    {
        get
        {
            using var stream = OpenResource("LICENSE");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }

    private static IdxFile ReadResource(string file)
    {
        using var stream = OpenResource(file);
        return IdxReader.Read(stream, $"{EmbeddedSource}:{file}");
    }

    private static Stream OpenResource(string file) =>
        typeof(DataSets).Assembly.GetManifestResourceStream(ResourcePrefix + file)
        ?? throw new FileNotFoundException($"{EmbeddedSource}: missing resource {ResourcePrefix + file} (NormNet was built without its data).");
}
