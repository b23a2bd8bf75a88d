using System.Text;
using NormNet.Data;
using NormNet.Layers;
using NormNet.Optim;
using NormNet.Serialization;
using NormNet.Training;

namespace NormNet.Tests.Serialization;

/// <summary>Issue #15: one validation of every loaded state: values, counters, shapes, names, header encoding.</summary>
public sealed class LoadValidationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-validate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Sequential Model(ulong seed) => new(
        new Linear(6, 5, rng: new Rng(seed)), new BatchNorm1d(5), new ReLU(), new Dropout(0.3, new Rng(seed + 1)), new Linear(5, 3, rng: new Rng(seed + 2)));

    private static List<float[]> Snapshot(Module m) =>
        m.StateEntries().Select(e => e.Tensor?.ToArray() ?? [e.Scalar!.Value]).ToList();

    /// <summary>Saves <paramref name="model"/>'s state with one value changed, under a valid checksum: only the value checks can refuse it.</summary>
    private string SaveWith(Module model, string tensor, int index, float value, Optimizer? optimizer = null)
    {
        string path = Path.Combine(_dir, $"{tensor}.safetensors");
        Checkpoint.Save(path, model, optimizer);
        var file = SafeTensors.Load(path);
        var entries = file.Entries.Select(e =>
        {
            if (e.Name != tensor) return e;
            var values = e.ToFloat32();
            values[index] = value;
            return SafeTensorsEntry.FromFloat32(e.Name, values, e.Shape);
        }).ToList();
        SafeTensors.Save(path, entries, file.Metadata);
        return path;
    }

    [Theory]
    [InlineData("0.weight", float.NaN, "holds NaN at element 2, expected finite values")]
    [InlineData("4.bias", float.PositiveInfinity, "holds Infinity at element 2, expected finite values")]
    [InlineData("1.running_var", -0.5f, "holds -0.5 at element 2, expected a non-negative variance")]
    [InlineData("1.running_mean", float.NegativeInfinity, "holds -Infinity at element 2")]
    public void BrokenValues_AreRefused_NamingFileAndTensor_UnlessValidationIsOff(string tensor, float value, string fragment)
    {
        string path = SaveWith(Model(1), tensor, 2, value);
        var target = Model(2);
        var before = Snapshot(target);
        var e = Assert.Throws<InvalidDataException>(() => ModelState.Load(target, path, strict: false));
        Assert.Contains(path, e.Message);
        Assert.Contains($"'{tensor}'", e.Message);
        Assert.Contains(fragment, e.Message);
        Assert.Contains("validate: false", e.Message);
        Assert.Equal(before, Snapshot(target));
        Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, Model(3), null));

        ModelState.Load(target, path, strict: false, validate: false); // the explicit opt-out, to inspect a broken model
        var loaded = target.StateEntries().First(s => s.Name == tensor).Tensor!;
        Assert.Equal(value, loaded.ReadOnlySpan[2]);
    }

    [Fact]
    public void BrokenOptimizerState_IsRefused_BeforeAnythingChanges()
    {
        var source = Model(4);
        var adam = new Adam(source.NamedParameters(), 0.01);
        source.Forward(Tensor.Zeros(4, 6));
        adam.Step();
        string path = SaveWith(source, "optimizer.0.weight.exp_avg_sq", 0, -1f, adam);
        var target = Model(5);
        var before = Snapshot(target);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target, new Adam(target.NamedParameters(), 0.01)));
        Assert.Contains("'optimizer.0.weight.exp_avg_sq' holds -1 at element 0", e.Message);
        Assert.Equal(before, Snapshot(target));
    }

    private static byte[] Header(string json)
    {
        while (json.Length % 8 != 0) json += " ";
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length];
        BitConverter.GetBytes((ulong)header.Length).CopyTo(bytes, 0);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    [Fact]
    public void ShapeWhoseByteCountOverflows_IsRefused()
    {
        // 65536^4 float32 elements are 2^66 bytes, which wraps around to 0 in a 64-bit product
        var bytes = Header("{\"w\":{\"dtype\":\"F32\",\"shape\":[65536,65536,65536,65536],\"data_offsets\":[0,0]}}");
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Parse(bytes, "huge.safetensors"));
        Assert.Contains("huge.safetensors", e.Message);
        Assert.Contains("'w'", e.Message);
        Assert.Contains("more bytes than a file can", e.Message);
        SafeTensors.Parse(Header("{\"w\":{\"dtype\":\"F32\",\"shape\":[65536,0,65536],\"data_offsets\":[0,0]}}"), "empty"); // zero elements: fine
    }

    [Fact]
    public void NonUtf8Header_DuplicateNames_AndDuplicateMetadata_AreInvalidData_NamingTheFile()
    {
        var latin1 = Header("{\"__metadata__\":{\"k\":\"caf\u00e9\"}}");
        int at = Array.IndexOf(latin1, (byte)0xC3);
        latin1[at] = 0xE9; // a Latin-1 é: not UTF-8
        latin1[at + 1] = (byte)'"';
        latin1[at + 2] = (byte)'}';
        latin1[at + 3] = (byte)'}';
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Parse(latin1, "latin1.safetensors"));
        Assert.Contains("latin1.safetensors: the header is not valid UTF-8", e.Message);

        const string entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
        var twice = Header($"{{\"w\":{entry},\"w\":{entry}}}").Concat(new byte[4]).ToArray();
        Assert.Contains("twice.safetensors: the header names 'w' twice", Assert.Throws<InvalidDataException>(() => SafeTensors.Parse(twice, "twice.safetensors")).Message);
        var meta = Header("{\"__metadata__\":{\"step\":\"1\",\"step\":\"2\"}}");
        Assert.Contains("meta.safetensors: the metadata names 'step' twice", Assert.Throws<InvalidDataException>(() => SafeTensors.Parse(meta, "meta.safetensors")).Message);
    }

    [Fact]
    public void ChangedContents_AreRefusedByTheChecksum_AndAFileWithoutOneIsReadAsItIs()
    {
        string path = Path.Combine(_dir, "sum.safetensors");
        ModelState.Save(Model(6), path);
        var bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 0x01; // one bit of the last float: still finite, still the right size
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => ModelState.Load(Model(7), path));
        Assert.Contains("do not match the file's checksum", e.Message);
        ModelState.Load(Model(7), path, validate: false); // inspect it anyway

        var file = SafeTensors.Parse(bytes, "x", verifyChecksum: false);
        var bare = SafeTensors.Serialize(file.Entries).AsSpan().ToArray();
        var noSum = SafeTensors.Parse(bare, "bare");
        var stripped = noSum.Metadata.Where(m => m.Key != SafeTensorsChecksum.MetadataKey).ToDictionary();
        Assert.Empty(stripped);
    }

    [Fact]
    public void AllZeroGeneratorState_IsRefused_BeforeTheModelChanges()
    {
        var source = Model(8);
        string path = Path.Combine(_dir, "rng.safetensors");
        Checkpoint.Save(path, source, null);
        var file = SafeTensors.Load(path);
        var meta = file.Metadata.ToDictionary();
        string key = meta.Keys.Single(k => k.StartsWith("rng.", StringComparison.Ordinal));
        meta[key] = "0,0,0,0";
        SafeTensors.Save(path, file.Entries, meta);
        var target = Model(9);
        var before = Snapshot(target);
        Assert.Contains("all zeros", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, target, null)).Message);
        Assert.Equal(before, Snapshot(target));
    }

    private static readonly ImageDataset Data = DataSets.FashionMnistSubset();

    [Theory]
    [InlineData("step", "-5", "'step' is -5, expected a value in [0, ")]
    [InlineData("data_epoch", "4294967297", "'data_epoch' is 4294967297, expected a value in [0, 2147483647]")]
    [InlineData("data_index", "-1", "'data_index' is -1")]
    [InlineData("data_index", "10001", "'data_index' is 10001, expected a value in [0, 10000]")]
    [InlineData("optimizer_step_count", "-2", "'optimizer_step_count' is -2")]
    [InlineData("step", "12x", "missing or bad metadata 'step'")]
    public void CheckpointCountersOutOfRange_AreRefused_BeforeAnythingChanges(string key, string value, string fragment)
    {
        Trainer NewTrainer(ulong seed)
        {
            var model = new Sequential(new Linear(784, 8, rng: new Rng(seed)), new BatchNorm1d(8), new ReLU(), new Linear(8, 10, rng: new Rng(seed + 1)));
            return new Trainer(model, new Sgd(model.NamedParameters(), 0.1, momentum: 0.9), new DataLoader(Data.Train, 32, seed: 3));
        }
        var source = NewTrainer(1);
        source.Run(3);
        string path = Path.Combine(_dir, "trainer.safetensors");
        source.SaveCheckpoint(path);
        var file = SafeTensors.Load(path);
        var meta = file.Metadata.ToDictionary();
        meta[key] = value;
        SafeTensors.Save(path, file.Entries, meta);
        var target = NewTrainer(2);
        var before = Snapshot(target.Model);
        var e = Assert.Throws<InvalidDataException>(() => target.LoadCheckpoint(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(fragment, e.Message);
        Assert.Equal(before, Snapshot(target.Model));
        Assert.Equal(0, target.Step);
        Assert.Equal(new LoaderPosition(0, 0), target.Train.Position);
    }
}
