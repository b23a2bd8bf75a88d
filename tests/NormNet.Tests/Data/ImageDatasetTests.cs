using NormNet.Data;
using static NormNet.Tests.Data.IdxTestData;

namespace NormNet.Tests.Data;

/// <summary>Data sets from folders, the embedded Fashion-MNIST subset, and the choice between them.</summary>
public sealed class ImageDatasetTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Sub(string name) => Path.Combine(_dir.Path, name);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void FromDirectory_ReadsTheFourFiles(bool gz)
    {
        WriteSet(_dir.Path, train: 30, test: 7, h: 5, w: 4, gz: gz);
        var set = ImageDataset.FromDirectory(_dir.Path, "Synthetic");
        Assert.Equal((30, 7, 5, 4), (set.Train.Count, set.Test.Count, set.Train.Height, set.Train.Width));
        var (images, labels) = Samples(30, 5, 4, seed: 1);
        Assert.Equal(images, set.Train.Images.ToArray());
        Assert.Equal(labels.Select(b => (int)b), set.Train.Labels.ToArray());
        Assert.Equal(images[20..40], set.Train.Image(1).ToArray());
        Assert.Equal([3, 3, 3, 3, 3, 3, 3, 3, 3, 3], set.Train.ClassCounts());
        Assert.Equal($"Synthetic ({Path.GetFullPath(_dir.Path)}): 30 train / 7 test images of 5x4, 10 classes", set.Description);
    }

    [Fact]
    public void ImageAndLabelCountsMustMatch()
    {
        WriteSet(_dir.Path, train: 30, test: 7);
        string labels = Write(_dir.Path, ImageDataset.TestLabelsFile, Idx([6], new byte[6]), gz: true);
        var e = Assert.Throws<InvalidDataException>(() => ImageDataset.FromDirectory(_dir.Path));
        Assert.Equal($"{labels}: expected 7 labels (the image count of {_dir.File(ImageDataset.TestImagesFile + ".gz")}), found 6.", e.Message);
    }

    [Fact]
    public void LabelsMustBeBelowTheClassCount()
    {
        WriteSet(_dir.Path, train: 30, test: 7);
        var labels = new byte[30];
        labels[17] = 10;
        string path = Write(_dir.Path, ImageDataset.TrainLabelsFile, Idx([30], labels), gz: true);
        var e = Assert.Throws<InvalidDataException>(() => ImageDataset.FromDirectory(_dir.Path, classCount: 10));
        Assert.Equal($"{path}: label 10 at index 17: expected a value below 10 (the class count).", e.Message);
        Assert.Equal(11, ImageDataset.FromDirectory(_dir.Path, classCount: 11).Train.ClassCount);
        Assert.Equal(11, ImageDataset.FromDirectory(_dir.Path).Train.ClassCount); // any class count: one more than the largest label
    }

    [Fact]
    public void WrongRankAndImageSize()
    {
        WriteSet(_dir.Path, train: 30, test: 7, h: 4, w: 3);
        string labels = Write(_dir.Path, ImageDataset.TestLabelsFile, Idx([7, 1], new byte[7]), gz: true);
        Assert.Equal($"{labels}: expected label dimensions (N,), found (7, 1).",
            Assert.Throws<InvalidDataException>(() => ImageDataset.FromDirectory(_dir.Path)).Message);
        WriteSet(_dir.Path, train: 30, test: 7, h: 4, w: 3);
        Write(_dir.Path, ImageDataset.TestImagesFile, Idx([7, 3, 4], new byte[84]), gz: true);
        Assert.Contains("test images are 3x4: expected the training images' size, 4x3",
            Assert.Throws<InvalidDataException>(() => ImageDataset.FromDirectory(_dir.Path)).Message);
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        WriteSet(_dir.Path, train: 30, test: 7);
        File.Delete(_dir.File(ImageDataset.TestLabelsFile + ".gz"));
        var e = Assert.Throws<FileNotFoundException>(() => ImageDataset.FromDirectory(_dir.Path));
        Assert.Equal($"{_dir.Path}: missing t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz).", e.Message);
        Assert.False(ImageDataset.HasStandardFiles(_dir.Path));
    }

    [Fact]
    public void MissingDirectoryIsNamed()
    {
        string missing = Sub("no-such-folder");
        var e = Assert.Throws<DirectoryNotFoundException>(() => DataSets.Resolve(missing));
        Assert.Equal($"{missing}: data directory not found.", e.Message);
    }

    [Fact]
    public void EmbeddedSubset_IsBalancedFashionMnist()
    {
        var set = DataSets.FashionMnistSubset();
        Assert.Equal((10_000, 2_000), (set.Train.Count, set.Test.Count));
        Assert.Equal((28, 28, 10), (set.Train.Height, set.Train.Width, set.Train.ClassCount));
        Assert.All(set.Train.ClassCounts(), c => Assert.Equal(1_000, c));
        Assert.All(set.Test.ClassCounts(), c => Assert.Equal(200, c));
        Assert.Equal("Fashion-MNIST subset (embedded in NormNet.Samples.dll): 10,000 train / 2,000 test images of 28x28, 10 classes", set.Description);
        Assert.Contains("Copyright (c) 2017 Zalando SE", DataSets.FashionMnistLicense);
        Assert.Contains("The MIT License", DataSets.FashionMnistLicense);
        // real images: mostly dark background, some bright pixels
        double mean = set.Train.Images.ToArray().Average(b => (double)b) / 255;
        Assert.InRange(mean, 0.2, 0.4);
    }

    [Fact]
    public void Resolve_PrefersExplicitThenSystemThenEmbedded()
    {
        string explicitDir = Sub("explicit"), systemDir = Sub("system"), emptyDir = Sub("empty");
        WriteSet(explicitDir, train: 12, test: 3, gz: false);
        WriteSet(systemDir, train: 21, test: 5);
        Directory.CreateDirectory(emptyDir);

        var chosen = DataSets.Resolve(explicitDir, systemDirectory: systemDir);
        Assert.Equal((12, 3), (chosen.Train.Count, chosen.Test.Count));
        Assert.StartsWith($"MNIST-format data ({Path.GetFullPath(explicitDir)}): 12 train", chosen.Description);

        foreach (string? none in new[] { null, "", "  " })
        {
            chosen = DataSets.Resolve(none, systemDirectory: systemDir);
            Assert.Equal((21, 5), (chosen.Train.Count, chosen.Test.Count));
            Assert.StartsWith($"Fashion-MNIST ({Path.GetFullPath(systemDir)}): 21 train", chosen.Description);
        }

        foreach (string? fallback in new[] { emptyDir, Sub("absent"), null })
        {
            chosen = DataSets.Resolve(null, systemDirectory: fallback);
            Assert.Equal((10_000, 2_000), (chosen.Train.Count, chosen.Test.Count));
            Assert.StartsWith("Fashion-MNIST subset (embedded in NormNet.Samples.dll)", chosen.Description);
        }

        // an explicit folder that lacks a file is an error, never a silent fallback
        File.Delete(Path.Combine(explicitDir, ImageDataset.TrainImagesFile));
        Assert.Throws<FileNotFoundException>(() => DataSets.Resolve(explicitDir, systemDirectory: systemDir));
        // a broken system copy is reported, not skipped
        File.WriteAllBytes(Path.Combine(systemDir, ImageDataset.TrainLabelsFile + ".gz"), [1, 2, 3]);
        Assert.Throws<InvalidDataException>(() => DataSets.Resolve(null, systemDirectory: systemDir));
    }

    [Fact]
    public void ImageSet_ChecksItsArguments()
    {
        Assert.Contains("expected 2 images of 1x2x2 = 8 pixels, found 7",
            Assert.Throws<ArgumentException>(() => new ImageSet(new byte[7], new byte[2], 2, 2)).Message);
        Assert.Contains("label 3 at index 1: expected a value in [0, 3)",
            Assert.Throws<ArgumentException>(() => new ImageSet(new byte[8], [0, 3], 2, 2, classCount: 3)).Message);
        Assert.Contains("expected at least 1 sample, found 0",
            Assert.Throws<ArgumentException>(() => new ImageSet([], [], 2, 2)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Set(5).Image(5));
    }
}
