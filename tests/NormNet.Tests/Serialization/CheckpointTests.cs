using System.Diagnostics;
using System.Text;
using NormNet.Layers;
using NormNet.Optim;
using NormNet.Serialization;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Serialization;

/// <summary>Safetensors model state and training checkpoints: round trips, corrupt and mismatching files, atomic saves.</summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Sequential Model(ulong seed) => new(
        new Linear(6, 5, rng: new Rng(seed)), new BatchNorm1d(5), new ReLU(), new Dropout(0.3, new Rng(seed + 1)), new Linear(5, 3, rng: new Rng(seed + 2)));

    private static List<float[]> Snapshot(Module m) =>
        m.StateEntries().Select(e => e.Tensor?.ToArray() ?? [e.Scalar!.Value]).ToList();

    private static void Train(Module model, Optimizer opt, int steps, int seed)
    {
        var ce = new NormNet.Losses.CrossEntropyLoss();
        for (int s = 0; s < steps; s++)
        {
            var x = Tensor.FromArray(RandomNormal(8 * 6, seed + s), 8, 6);
            opt.ZeroGrad();
            ce.Forward(model.Forward(x), [0, 1, 2, 0, 1, 2, 0, 1]);
            model.Backward(ce.Backward());
            opt.Step();
        }
    }

    [Fact]
    public void ModelState_RoundTrips_WithPyTorchNamesAndDtypes()
    {
        var a = Model(1);
        Train(a, new Sgd(a.NamedParameters(), 0.1, momentum: 0.9), 3, 10);
        string path = Path.Combine(_dir, "model.safetensors");
        ModelState.Save(a, path);
        var file = SafeTensors.Load(path);
        Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked", "4.weight", "4.bias"],
            file.Entries.Select(e => e.Name));
        Assert.Equal("I64", file["1.num_batches_tracked"].DType);
        Assert.Empty(file["1.num_batches_tracked"].Shape);
        Assert.Equal(3, file["1.num_batches_tracked"].ToInt64()[0]);
        var b = Model(2);
        ModelState.Load(b, path);
        Assert.Equal(Snapshot(a), Snapshot(b));
    }

    [Fact]
    public void TrainingCheckpoint_RestoresOptimizerAndGenerators()
    {
        var a = Model(3);
        var optA = new Adam(a.NamedParameters(), 0.01);
        Train(a, optA, 4, 20);
        string path = Path.Combine(_dir, "train.safetensors");
        Checkpoint.Save(path, a, optA, new Dictionary<string, string> { ["step"] = "4" });
        var b = Model(4);
        var optB = new Adam(b.NamedParameters(), 0.01);
        var meta = Checkpoint.Load(path, b, optB);
        Assert.Equal("4", meta["step"]);
        Assert.Equal(optA.StepCount, optB.StepCount);
        Assert.Equal(optA.StateTensors().Select(s => s.State.ToArray()), optB.StateTensors().Select(s => s.State.ToArray()));
        // continuing both gives identical bits: optimizer moments, step count and dropout generator all came back
        Train(a, optA, 3, 30);
        Train(b, optB, 3, 30);
        Assert.Equal(Snapshot(a), Snapshot(b));
    }

    [Fact]
    public void CorruptFiles_FailClearly_AndLeaveTheModelUnchanged()
    {
        var source = Model(5);
        string good = Path.Combine(_dir, "good.safetensors");
        ModelState.Save(source, good);
        byte[] bytes = File.ReadAllBytes(good);
        var target = Model(6);
        var before = Snapshot(target);

        void Expect(byte[] content, string fragment)
        {
            string path = Path.Combine(_dir, "bad.safetensors");
            File.WriteAllBytes(path, content);
            var e = Assert.Throws<InvalidDataException>(() => ModelState.Load(target, path));
            Assert.Contains(fragment, e.Message);
            Assert.Contains("bad.safetensors", e.Message);
            Assert.Equal(before, Snapshot(target));
        }

        Expect(bytes[..5], "shorter than the 8-byte header length");
        Expect(bytes[..(bytes.Length - 10)], "truncated");
        Expect(bytes[..40], "exceeds");
        var garbled = (byte[])bytes.Clone();
        garbled[8] = (byte)'#';
        Expect(garbled, "not valid JSON");
        string header = Encoding.UTF8.GetString(bytes, 8, (int)BitConverter.ToUInt64(bytes, 0));
        Expect(Replace(bytes, header, header.Replace("\"0.bias\":{\"dtype\":\"F32\",\"shape\":[5]", "\"0.bias\":{\"dtype\":\"F64\",\"shape\":[5]")), "'0.bias'");
        var swapped = Replace(bytes, header, header.Replace("\"shape\":[5,6]", "\"shape\":[6,5]"));
        Expect(swapped, "do not match the file's checksum"); // the same bytes under another shape: only the checksum can tell
        var unchecked_ = SafeTensors.Parse(swapped, "bad.safetensors", verifyChecksum: false);
        Assert.Contains("'0.weight'", Assert.Throws<InvalidDataException>(() => ModelState.Load(target, unchecked_, "", true, "bad.safetensors")).Message);
    }

    private static byte[] Replace(byte[] file, string oldHeader, string newHeader)
    {
        Assert.NotEqual(oldHeader, newHeader);
        Assert.Equal(oldHeader.Length, newHeader.Length);
        var copy = (byte[])file.Clone();
        Encoding.UTF8.GetBytes(newHeader).CopyTo(copy, 8);
        return copy;
    }

    [Fact]
    public void MismatchingModels_NameTheTensor_AndLeaveTheModelUnchanged()
    {
        string path = Path.Combine(_dir, "m.safetensors");
        ModelState.Save(Model(7), path);
        var wider = new Sequential(new Linear(6, 8, rng: new Rng(1)), new BatchNorm1d(8), new ReLU(), new Dropout(), new Linear(8, 3, rng: new Rng(2)));
        var before = Snapshot(wider);
        var e = Assert.Throws<InvalidDataException>(() => ModelState.Load(wider, path));
        Assert.Contains("'0.weight' has shape (5, 6), expected (8, 6)", e.Message);
        Assert.Equal(before, Snapshot(wider));

        var other = new Sequential(new Linear(6, 5, rng: new Rng(1)), new ReLU(), new Linear(5, 3, rng: new Rng(2)));
        Assert.Contains("missing tensor '2.weight'", Assert.Throws<InvalidDataException>(() => ModelState.Load(other, path)).Message);
        var smaller = new Sequential(new Linear(6, 5, rng: new Rng(1)), new BatchNorm1d(5));
        Assert.Contains("unexpected tensor '4.weight'", Assert.Throws<InvalidDataException>(() => ModelState.Load(smaller, path)).Message);
        Assert.Contains("not a NormNet training checkpoint", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, Model(8), null)).Message);
        Assert.Throws<FileNotFoundException>(() => ModelState.Load(Model(9), Path.Combine(_dir, "none.safetensors")));
    }

    [Fact]
    public void CheckpointOfAnotherOptimizer_IsRefusedBeforeAnythingChanges()
    {
        var a = Model(10);
        var sgd = new Sgd(a.NamedParameters(), 0.1, momentum: 0.9);
        Train(a, sgd, 2, 40);
        string path = Path.Combine(_dir, "sgd.safetensors");
        Checkpoint.Save(path, a, sgd);
        var b = Model(11);
        var before = Snapshot(b);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, b, new Adam(b.NamedParameters())));
        Assert.Contains("missing optimizer tensor 'optimizer.0.weight.exp_avg'", e.Message);
        Assert.Equal(before, Snapshot(b));
    }

    [Fact]
    public void KilledDuringSave_LeavesThePreviousFileIntact()
    {
        string child = Path.Combine(AppContext.BaseDirectory, "NormNet.TestChild.dll");
        var rng = new Random(12);
        int interrupted = 0;
        // keep killing until two kills have landed inside a write (under load a kill often lands between writes);
        // every round checks that the file is intact, whatever the kill hit
        for (int round = 0; round < 40 && interrupted < 2; round++)
        {
            string path = Path.Combine(_dir, $"atomic{round}.safetensors");
            var psi = new ProcessStartInfo("dotnet", ["exec", child, "save-loop", path, "16"]) { RedirectStandardOutput = true };
            using var process = Process.Start(psi)!;
            long lastSaved = 0;
            while (true)
            {
                string? line = process.StandardOutput.ReadLine();
                Assert.NotNull(line);
                var parts = line!.Split(' ');
                if (parts[0] == "saved") lastSaved = long.Parse(parts[1]);
                else if (lastSaved >= 2) break; // "writing N": a write of a new generation has just begun
            }
            Thread.Sleep(rng.Next(0, 4));
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            if (Directory.GetFiles(_dir, $".atomic{round}.safetensors.*.tmp").Length > 0) interrupted++;
            var file = SafeTensors.Load(path); // complete and valid, whatever the kill interrupted
            long generation = long.Parse(file.Metadata["generation"]);
            Assert.True(generation >= lastSaved, $"generation {generation} is older than the last completed save {lastSaved}");
            Assert.All(file["weight"].ToFloat32(), v => Assert.Equal(generation, v));
        }
        Assert.True(interrupted > 0, "no kill landed during a write, so the test proved nothing; make the writes longer");
    }
}
