using System.Text;
using NormNet.Layers;
using NormNet.Optim;
using NormNet.Serialization;

namespace NormNet.Tests.Serialization;

/// <summary>Issue #15: random corruptions of a valid checkpoint (bit flips, truncations, header edits) are either
/// loaded with identical values or refused with an <see cref="InvalidDataException"/>; never anything else.</summary>
public sealed class CorruptionPropertyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-corrupt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (Sequential Model, Adam Optimizer) Setup(ulong seed)
    {
        var model = new Sequential(new Linear(4, 3, rng: new Rng(seed)), new BatchNorm1d(3), new ReLU(),
            new Dropout(0.3, new Rng(seed + 1)), new Linear(3, 2, rng: new Rng(seed + 2)));
        return (model, new Adam(model.NamedParameters(), 0.01));
    }

    /// <summary>Everything a checkpoint restores: model state, optimizer state and step count, generator states.</summary>
    private static List<string> Snapshot(Module model, Optimizer optimizer)
    {
        var parts = model.StateEntries().Select(e => e.Name + "=" + string.Join(",", (e.Tensor?.ToArray() ?? [e.Scalar!.Value]).Select(v => BitConverter.SingleToInt32Bits((float)v)))).ToList();
        parts.AddRange(optimizer.StateTensors().Select(s => s.Name + "=" + string.Join(",", s.State.ToArray().Select(BitConverter.SingleToInt32Bits))));
        parts.Add("step=" + optimizer.StepCount);
        parts.AddRange(model.NamedGenerators().Select(g => g.Name + "=" + string.Join(",", g.Generator.GetState())));
        return parts;
    }

    private static byte[] Corrupt(byte[] good, Random rng, out string what)
    {
        var bytes = (byte[])good.Clone();
        int headerEnd = 8 + (int)BitConverter.ToUInt64(good, 0);
        switch (rng.Next(4))
        {
            case 0: // a bit flip anywhere
            {
                int at = rng.Next(bytes.Length), bit = rng.Next(8);
                bytes[at] ^= (byte)(1 << bit);
                what = $"bit {bit} of byte {at} flipped";
                return bytes;
            }
            case 1: // truncation
            {
                int length = rng.Next(bytes.Length);
                what = $"truncated to {length} bytes";
                return bytes[..length];
            }
            case 2: // a header character replaced by one that JSON cares about
            {
                const string chars = "0123456789\"{}[],:-.eE ÿ\\";
                int at = rng.Next(8, headerEnd);
                char c = chars[rng.Next(chars.Length)];
                var replacement = Encoding.UTF8.GetBytes(c.ToString());
                what = $"header byte {at} set to '{c}'";
                return [.. bytes[..at], .. replacement, .. bytes[(at + 1)..]];
            }
            default: // a header digit changed (shapes, offsets, counters, generator states)
            {
                var digits = Enumerable.Range(8, headerEnd - 8).Where(i => bytes[i] is >= (byte)'0' and <= (byte)'9').ToArray();
                int at = digits[rng.Next(digits.Length)];
                byte d = (byte)('0' + (bytes[at] - '0' + 1 + rng.Next(9)) % 10);
                what = $"header digit at {at} changed from {(char)bytes[at]} to {(char)d}";
                bytes[at] = d;
                return bytes;
            }
        }
    }

    [Fact]
    public void RandomCorruptions_AreLoadedIdentically_OrRefusedAsInvalidData()
    {
        var (source, adam) = Setup(1);
        var ce = new NormNet.Losses.CrossEntropyLoss();
        for (int s = 0; s < 3; s++)
        {
            ce.Forward(source.Forward(Tensor.FromArray(TestUtil.RandomNormal(24, s), 6, 4)), [0, 1, 0, 1, 0, 1]);
            adam.ZeroGrad();
            source.Backward(ce.Backward());
            adam.Step();
        }
        string good = Path.Combine(_dir, "good.safetensors");
        Checkpoint.Save(good, source, adam, new Dictionary<string, string> { ["note"] = "x" });
        var goodBytes = File.ReadAllBytes(good);
        var expected = Snapshot(source, adam);
        var rng = new Random(15);
        int refused = 0, loaded = 0;
        string path = Path.Combine(_dir, "bad.safetensors");
        for (int i = 0; i < 300; i++)
        {
            var bytes = Corrupt(goodBytes, rng, out string what);
            File.WriteAllBytes(path, bytes);
            var (model, optimizer) = Setup(100 + (ulong)i);
            var before = Snapshot(model, optimizer);
            try
            {
                Checkpoint.Load(path, model, optimizer);
                Assert.True(expected.SequenceEqual(Snapshot(model, optimizer)), $"case {i} ({what}) was loaded with different values");
                loaded++;
            }
            catch (InvalidDataException e)
            {
                Assert.Contains("bad.safetensors", e.Message);
                Assert.True(before.SequenceEqual(Snapshot(model, optimizer)), $"case {i} ({what}) was refused but changed the model");
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"case {i} ({what}): {e.GetType().Name} instead of InvalidDataException: {e.Message}");
            }
        }
        Assert.True(refused > 250, $"only {refused} of 300 corruptions were refused ({loaded} loaded identically)");
    }
}
