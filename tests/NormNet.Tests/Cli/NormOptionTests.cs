using NormNet.Cli.Commands;
using NormNet.Deployment;
using NormNet.Tests.Deployment;

namespace NormNet.Tests.Cli;

/// <summary><c>--norm</c> puts each normalization of the family into the built-in networks, from the command line to ONNX.</summary>
[Collection("Console")]
public sealed class NormOptionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-norm-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteCsv()
    {
        var rng = new Random(1);
        string path = Path.Combine(_dir, "t.csv");
        File.WriteAllLines(path, ["a,b,c,d,label", .. Enumerable.Range(0, 200).Select(i =>
            string.Join(',', Enumerable.Range(0, 4).Select(j => (rng.NextDouble() + (i % 2) * (j + 1)).ToString("F3", System.Globalization.CultureInfo.InvariantCulture))) + (i % 2 == 0 ? ",x" : ",y"))]);
        return path;
    }

    [Theory]
    [InlineData("batch", "BatchNorm1d")]
    [InlineData("group", "GroupNorm")]
    [InlineData("layer", "LayerNorm")]
    [InlineData("renorm", "BatchRenorm1d")]
    [InlineData("ghost", "BatchNorm1d")]
    [InlineData("none", null)]
    public void EachNorm_TrainsTheMlp_AndItsModelRunsInOnnxRuntime(string norm, string? layer)
    {
        string run = Path.Combine(_dir, norm);
        string[] extra = norm switch { "group" => ["--groups", "8"], "ghost" => ["--virtual-batch-size", "8"], _ => [] };
        var r = CliTests.Run(["train", "--data", WriteCsv(), "--arch", "mlp", "--hidden", "16", "--norm", norm, .. extra,
            "--batch-size", "32", "--steps", "12", "--out", run]);
        Assert.True(r.Code == 0, r.Error);
        var loaded = CheckpointModel.Load(Path.Combine(run, "model.safetensors"), null, null);
        var types = loaded.Model.NamedModules().Select(m => m.Module.GetType().Name).ToList();
        if (layer is null) Assert.DoesNotContain(types, t => t.Contains("Norm", StringComparison.Ordinal));
        else Assert.Contains(layer, types);
        if (norm == "ghost") Assert.Equal(8, loaded.Model.NamedModules().Select(m => m.Module).OfType<NormNet.Layers.BatchNormBase>().Single().VirtualBatchSize);

        loaded.Model.Eval();
        var x = Tensor.FromArray(TestUtil.RandomNormal(5 * 4, 3), 5, 4);
        var expected = loaded.Model.Forward(x).ToArray();
        var (actual, _) = OnnxExportTests.RunOnnx(OnnxExporter.ToBytes(loaded.Model, loaded.Card.InputShape), x);
        TestUtil.AssertClose(expected, actual, 1e-5, $"{norm}: ONNX Runtime vs NormNet", floor: 1);
    }

    [Fact]
    public void BadNormOptions_AreOneLine()
    {
        string csv = WriteCsv();
        var both = CliTests.Run("train", "--data", csv, "--arch", "mlp", "--norm", "group", "--bn", "on", "--steps", "2");
        Assert.Contains("give --norm or --bn, not both", both.Error);
        var groups = CliTests.Run("train", "--data", csv, "--arch", "mlp", "--hidden", "20", "--norm", "group", "--groups", "8", "--steps", "2");
        Assert.Equal(2, groups.Code);
        Assert.Contains("num_channels 20 is not divisible by num_groups 8", groups.Error);
        var ghost = CliTests.Run("train", "--data", csv, "--arch", "mlp", "--norm", "ghost", "--virtual-batch-size", "7", "--batch-size", "32", "--steps", "2");
        Assert.Equal(2, ghost.Code);
        Assert.Contains("not a multiple of the virtual batch size 7", ghost.Error);
        Assert.Contains("--groups applies to --norm group", CliTests.Run("train", "--data", csv, "--arch", "mlp", "--groups", "4", "--steps", "2").Error);
    }
}
