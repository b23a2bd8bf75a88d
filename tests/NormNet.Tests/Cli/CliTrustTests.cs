using NormNet.Data;
using NormNet.Serialization;

namespace NormNet.Tests.Cli;

/// <summary>Issue #15 at the command line: eval, export and resume refuse broken checkpoints (eval inspects them with
/// --allow-invalid but never prints a score for non-finite outputs), and failures end with one line and exit 1.</summary>
[Collection("Console")]
public sealed class CliTrustTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-cli-trust-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void AssertOneLine((int Code, string Error, string Output) r, int code, string fragment)
    {
        Assert.True(r.Code == code, $"exit {r.Code}, expected {code}: {r.Error}");
        Assert.Contains(fragment, r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", r.Error);
    }

    /// <summary>A short run, and copies of its files with a NaN in the first weight (under a valid checksum).</summary>
    private (string Model, string Checkpoint, string NaNModel, string NaNCheckpoint) Run()
    {
        string run = Path.Combine(_dir, "run");
        var train = CliTests.Run("train", "--arch", "mlp-sigmoid", "--steps", "4", "--eval-every", "2", "--out", run);
        Assert.True(train.Code == 0, train.Error);
        string model = Path.Combine(run, "model.safetensors"), checkpoint = Path.Combine(run, "checkpoint.safetensors");
        return (model, checkpoint, WithNaN(model), WithNaN(checkpoint));
    }

    private string WithNaN(string path)
    {
        var file = SafeTensors.Load(path);
        var entries = file.Entries.Select(e => e.Name != "0.weight" ? e
            : SafeTensorsEntry.FromFloat32(e.Name, [float.NaN, .. e.ToFloat32()[1..]], e.Shape)).ToList();
        string copy = Path.Combine(_dir, "nan-" + Path.GetFileName(path));
        SafeTensors.Save(copy, entries, file.Metadata);
        return copy;
    }

    [Fact]
    public void BrokenCheckpoints_AreRefusedByEvalExportAndResume_AndEvalNeverScoresNaNOutputs()
    {
        var (model, _, nanModel, nanCheckpoint) = Run();
        AssertOneLine(CliTests.Run("eval", nanModel), 2, $"{nanModel}: tensor '0.weight' holds NaN at element 0");
        var inspect = CliTests.Run("eval", nanModel, "--allow-invalid");
        AssertOneLine(inspect, 1, $"the model's outputs are not finite ({DataSets.Resolve(null).Test.Count} of {DataSets.Resolve(null).Test.Count} test samples)");
        Assert.DoesNotContain("accuracy", inspect.Output);

        string onnx = Path.Combine(_dir, "nan.onnx");
        AssertOneLine(CliTests.Run("export", "onnx", nanCheckpoint, "--out", onnx, "--fold"), 2, "'0.weight' holds NaN");
        Assert.False(File.Exists(onnx));
        AssertOneLine(CliTests.Run("train", "--resume", nanCheckpoint, "--steps", "8"), 2, "'0.weight' holds NaN");

        var good = CliTests.Run("eval", model);
        Assert.True(good.Code == 0, good.Error);
        Assert.Contains("accuracy", good.Output);
    }

    [Fact]
    public void TruncatedTrainingSettings_AreInvalidData_NamingTheFile()
    {
        var (model, _, _, _) = Run();
        var file = SafeTensors.Load(model);
        var meta = file.Metadata.ToDictionary();
        meta["normnet_train_settings"] = meta["normnet_train_settings"][..20];
        string cut = Path.Combine(_dir, "cut.safetensors");
        SafeTensors.Save(cut, file.Entries, meta);
        AssertOneLine(CliTests.Run("eval", cut), 1, $"InvalidData error: {cut}: the training settings 'normnet_train_settings' are not valid");
        AssertOneLine(CliTests.Run("train", "--resume", cut, "--steps", "8"), 1, "are not valid (truncated, edited");
    }

    [Fact]
    public void AClosedStandardOutput_IsOneLineAndExit1_NotACrash()
    {
        var error = new StringWriter();
        var saved = Console.Out;
        Console.SetOut(new ClosedWriter());
        try
        {
            int code = NormNet.Cli.Cli.Run(["--help"], error);
            Assert.Equal(1, code);
            Assert.Contains("cannot write the output: the standard output is closed", error.ToString());
            Assert.Single(error.ToString().Trim().Split('\n'));
            Assert.Equal(1, NormNet.Cli.Cli.Run(["--help"], new ClosedWriter())); // stderr closed too: still just the code
        }
        finally
        {
            Console.SetOut(saved);
        }
    }

    private sealed class ClosedWriter : StringWriter
    {
        public override void Write(char value) => throw new IOException("Broken pipe");

        public override void Write(string? value) => throw new IOException("Broken pipe");

        public override void Write(char[] buffer, int index, int count) => throw new IOException("Broken pipe");

        public override void WriteLine(string? value) => throw new IOException("Broken pipe");
    }
}
