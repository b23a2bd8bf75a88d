using System.Buffers.Binary;
using System.IO.Compression;
using NormNet.Data;

namespace NormNet.Tests.Data;

/// <summary>A fresh temporary folder, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "normnet-data-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Builds small synthetic IDX files.</summary>
internal static class IdxTestData
{
    /// <summary>An IDX file: 00 00, type, rank, big-endian dimensions, data.</summary>
    public static byte[] Idx(int[] dims, byte[] data, byte type = 0x08)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)dims.Length;
        for (int d = 0; d < dims.Length; d++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    public static byte[] Gzip(byte[] raw)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true)) gzip.Write(raw);
        return output.ToArray();
    }

    /// <summary>N images of H x W whose first two pixels encode the sample index (i % 256, i / 256) and the
    /// rest are seeded random bytes; label i is i % classes.</summary>
    public static (byte[] Images, byte[] Labels) Samples(int n, int h, int w, int seed, int classes = 10)
    {
        var rng = new Random(seed);
        var images = new byte[n * h * w];
        rng.NextBytes(images);
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            images[i * h * w] = (byte)(i % 256);
            images[i * h * w + 1] = (byte)(i / 256);
            labels[i] = (byte)(i % classes);
        }
        return (images, labels);
    }

    public static ImageSet Set(int n, int h = 4, int w = 3, int seed = 1)
    {
        var (images, labels) = Samples(n, h, w, seed);
        return new ImageSet(images, labels, h, w);
    }

    /// <summary>Writes the four standard files of a synthetic set into <paramref name="dir"/>, gzipped or raw.</summary>
    public static void WriteSet(string dir, int train, int test, int h = 4, int w = 3, bool gz = true)
    {
        Directory.CreateDirectory(dir);
        var (trainImages, trainLabels) = Samples(train, h, w, seed: 1);
        var (testImages, testLabels) = Samples(test, h, w, seed: 2);
        Write(dir, ImageDataset.TrainImagesFile, Idx([train, h, w], trainImages), gz);
        Write(dir, ImageDataset.TrainLabelsFile, Idx([train], trainLabels), gz);
        Write(dir, ImageDataset.TestImagesFile, Idx([test, h, w], testImages), gz);
        Write(dir, ImageDataset.TestLabelsFile, Idx([test], testLabels), gz);
    }

    public static string Write(string dir, string file, byte[] raw, bool gz)
    {
        string path = Path.Combine(dir, gz ? file + ".gz" : file);
        File.WriteAllBytes(path, gz ? Gzip(raw) : raw);
        return path;
    }

    /// <summary>The sample index encoded in a flattened, unstandardized image row.</summary>
    public static int SampleIndex(ReadOnlySpan<float> row) =>
        (int)MathF.Round(row[0] * 255f) + 256 * (int)MathF.Round(row[1] * 255f);
}
