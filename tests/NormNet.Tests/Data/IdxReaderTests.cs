using NormNet.Data;
using static NormNet.Tests.Data.IdxTestData;

namespace NormNet.Tests.Data;

/// <summary>The IDX reader: raw and gzip files, and a clear one-line error naming the file for every malformed input.</summary>
public sealed class IdxReaderTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly byte[] Pixels = Enumerable.Range(0, 24).Select(i => (byte)(i * 7)).ToArray();

    private string WriteFile(string name, byte[] bytes)
    {
        string path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private InvalidDataException Bad(string name, byte[] bytes)
    {
        string path = WriteFile(name, bytes);
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Fact]
    public void ReadsRawFile()
    {
        var idx = IdxReader.Read(WriteFile("images", Idx([2, 3, 4], Pixels)));
        Assert.Equal([2, 3, 4], idx.Dims.ToArray());
        Assert.Equal(3, idx.Rank);
        Assert.Equal(Pixels, idx.Data.ToArray());
        Assert.Equal("(2, 3, 4)", idx.DimsString);
    }

    [Fact]
    public void ReadsGzipFile_ByMagicNotExtension()
    {
        byte[] gz = Gzip(Idx([24], Pixels));
        foreach (string name in new[] { "labels.gz", "labels-without-extension" })
        {
            var idx = IdxReader.Read(WriteFile(name, gz));
            Assert.Equal([24], idx.Dims.ToArray());
            Assert.Equal(Pixels, idx.Data.ToArray());
        }
        // and a raw file called .gz is read as raw
        Assert.Equal(Pixels, IdxReader.Read(WriteFile("raw.gz", Idx([24], Pixels))).Data.ToArray());
    }

    [Fact]
    public void ReadsNonSeekableStream()
    {
        var stream = new NonSeekable(Gzip(Idx([4, 6], Pixels)));
        Assert.Equal(Pixels, IdxReader.Read(stream, "pipe").Data.ToArray());
    }

    [Fact]
    public void WrongMagic()
    {
        var bytes = Idx([24], Pixels);
        bytes[0] = 0x01;
        Assert.EndsWith("not an IDX file: expected magic bytes 00 00, found 01 00", Bad("magic", bytes).Message);
    }

    [Fact]
    public void WrongTypeByte()
    {
        Assert.EndsWith("unsupported element type 0x0D (float32): expected 0x08 (unsigned byte)",
            Bad("float", Idx([6], Pixels, type: 0x0D)).Message);
        Assert.EndsWith("invalid element type 0x05: expected 0x08 (unsigned byte)", Bad("type5", Idx([24], Pixels, type: 0x05)).Message);
    }

    [Fact]
    public void BadDimensions()
    {
        Assert.EndsWith("expected at least 1 dimension, found 0", Bad("rank0", Idx([], [])).Message);
        Assert.EndsWith("dimension 1 is 0: expected a positive size", Bad("zero", Idx([2, 0, 4], [])).Message);
        Assert.EndsWith("dimension 0 is -5: expected a positive size", Bad("negative", Idx([-5], [])).Message);
        Assert.Contains("dimensions (70000, 100000, 100000) hold more than", Bad("huge", Idx([70000, 100000, 100000], [])).Message);
        // a gzip of a few bytes claiming 2 GB is refused as truncated without allocating 2 GB
        Assert.Contains("truncated: expected 2000000012 bytes, found 16", Bad("claims.gz", Gzip(Idx([2, 1000000000], [1, 2, 3, 4]))).Message);
    }

    [Fact]
    public void TruncatedHeader()
    {
        Assert.EndsWith("truncated header: expected at least 4 bytes, found 0", Bad("empty", []).Message);
        Assert.EndsWith("truncated header: expected at least 4 bytes, found 3", Bad("three", [0, 0, 8]).Message);
        var twoOfThree = Idx([2, 3, 4], [])[..12];
        Assert.EndsWith("truncated header: expected 16 bytes for 3 dimensions, found 12", Bad("dims", twoOfThree).Message);
        Assert.EndsWith("found 10", Bad("dims.gz", Gzip(twoOfThree[..10])).Message);
    }

    [Fact]
    public void TruncatedData()
    {
        var bytes = Idx([2, 3, 4], Pixels)[..36];
        Assert.EndsWith("truncated: expected 40 bytes, found 36", Bad("short", bytes).Message);
        Assert.EndsWith("truncated: expected 40 bytes, found 36 (after gzip decompression)", Bad("short.gz", Gzip(bytes)).Message);
    }

    [Fact]
    public void TooLongData()
    {
        var bytes = Idx([2, 3, 3], Pixels); // 18 data bytes expected, 24 present
        Assert.EndsWith("too long: expected 34 bytes, found 40", Bad("long", bytes).Message);
        Assert.EndsWith("too long: expected 34 bytes, found 40 (after gzip decompression)", Bad("long.gz", Gzip(bytes)).Message);
    }

    [Fact]
    public void CorruptGzip()
    {
        var gz = Gzip(Idx([24], Enumerable.Range(0, 24).Select(i => (byte)(i * i)).ToArray()));
        var corrupt = (byte[])gz.Clone();
        for (int i = 10; i < corrupt.Length - 8; i++) corrupt[i] ^= 0x5A; // the deflate body
        Assert.Contains("corrupt gzip stream", Bad("corrupt.gz", corrupt).Message);
        var badCrc = (byte[])gz.Clone();
        badCrc[^8] ^= 0xFF; // the CRC-32 of the contents
        Assert.Contains("corrupt gzip stream", Bad("crc.gz", badCrc).Message);
        // a gzip stream cut short is either truncated data or a corrupt stream, but always names the file
        Bad("cut.gz", gz[..(gz.Length / 2)]);
    }

    [Fact]
    public void MissingFile()
    {
        string path = _dir.File("nowhere-idx1-ubyte");
        var e = Assert.Throws<FileNotFoundException>(() => IdxReader.Read(path));
        Assert.Equal(path, e.FileName);
        Assert.Contains(path, e.Message);
    }

    private sealed class NonSeekable(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
