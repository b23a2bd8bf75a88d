using NormNet.Cli;

namespace NormNet.Tests.Cli;

/// <summary>The normnet command's parsing and exit codes: 0 ok, 1 failed, 2 bad usage with one clear line and no stack trace.</summary>
[Collection("Console")]
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static (int Code, string Error, string Output) Run(params string[] args)
    {
        var error = new StringWriter();
        var output = new StringWriter();
        var saved = Console.Out;
        Console.SetOut(output);
        try
        {
            int code = NormNet.Cli.Cli.Run(args, error);
            return (code, error.ToString(), output.ToString());
        }
        finally
        {
            Console.SetOut(saved);
        }
    }

    private static void AssertUsage((int Code, string Error, string Output) r, string fragment)
    {
        Assert.Equal(2, r.Code);
        Assert.Contains(fragment, r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", r.Error);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("train", "--help")]
    [InlineData("eval", "--help")]
    [InlineData("experiment", "--help")]
    [InlineData("export", "onnx", "--help")]
    public void Help_IsAvailableEverywhere(params string[] args)
    {
        var r = Run(args);
        Assert.Equal(0, r.Code);
        Assert.Contains("Usage", r.Output);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("train", "--help")]
    [InlineData("export", "onnx", "--help")]
    public void Help_NamesTheCommandNormnet(params string[] args)
    {
        var r = Run(args);
        Assert.Equal(0, r.Code);
        Assert.Contains($"  normnet {string.Join(' ', args[..^1])}".TrimEnd() + " ", r.Output);
        Assert.DoesNotContain("NormNet.Cli", r.Output);
        Assert.DoesNotContain("testhost", r.Output);
    }

    [Fact]
    public void UnknownCommand_NamesTheWord()
    {
        var r = Run("frobnicate");
        AssertUsage(r, "'frobnicate'");
        Assert.Contains("(see 'normnet --help')", r.Error);
        AssertUsage(Run("export", "tflite"), "'tflite'");
    }

    [Fact]
    public void UnknownArchitecture_IsBadUsage() => AssertUsage(Run("train", "--arch", "transformer"), "transformer");

    [Fact]
    public void NegativeBatchSize_IsBadUsage() => AssertUsage(Run("train", "--arch", "cnn", "--batch-size", "-4", "--out", "x"), "--batch-size must be at least 1, got -4");

    [Fact]
    public void MissingDataDirectory_IsBadUsage() =>
        AssertUsage(Run("train", "--arch", "mlp-sigmoid", "--data", "/no/such/folder", "--steps", "2"), "/no/such/folder");

    [Fact]
    public void UnknownExperiment_IsBadUsage() => AssertUsage(Run("experiment", "dropout"), "unknown experiment 'dropout'");

    [Fact]
    public void UnknownOption_IsBadUsage() => AssertUsage(Run("train", "--frobnicate"), "--frobnicate");

    [Fact]
    public void ConflictingModes_AreBadUsage() => AssertUsage(Run("experiment", "mnist", "--quick", "--full"), "at most one of");

    [Fact]
    public void TrainEvalResume_EndToEnd_AndCheckpointOfAnotherArchitecture_IsBadUsage()
    {
        string run = Path.Combine(_dir, "run");
        var train = Run("train", "--arch", "mlp-sigmoid", "--steps", "30", "--eval-every", "10", "--out", run, "--seed", "3");
        Assert.True(train.Code == 0, train.Error);
        foreach (var f in new[] { "checkpoint.safetensors", "model.safetensors", "log.csv", "loss.png", "loss.svg", "accuracy.png", "accuracy.svg" })
            Assert.True(File.Exists(Path.Combine(run, f)), $"{f} missing");
        Assert.Equal(31, File.ReadAllLines(Path.Combine(run, "log.csv")).Length);

        var resumed = Run("train", "--resume", Path.Combine(run, "checkpoint.safetensors"), "--steps", "40", "--eval-every", "10");
        Assert.True(resumed.Code == 0, resumed.Error);
        Assert.Contains("Resumed from", resumed.Output);
        Assert.Equal(41, File.ReadAllLines(Path.Combine(run, "log.csv")).Length);

        var eval = Run("eval", Path.Combine(run, "model.safetensors"));
        Assert.True(eval.Code == 0, eval.Error);
        Assert.Contains("accuracy", eval.Output);
        Assert.Contains("Confusion matrix", eval.Output);

        AssertUsage(Run("eval", Path.Combine(run, "model.safetensors"), "--arch", "cnn"), "describes its own network (mlp-sigmoid (BN on)); drop --arch and --bn");
        string onnx = Path.Combine(_dir, "model.onnx");
        var export = Run("export", "onnx", Path.Combine(run, "checkpoint.safetensors"), "--out", onnx, "--fold");
        Assert.True(export.Code == 0, export.Error);
        Assert.Contains("opset 15", export.Output);
        Assert.True(new FileInfo(onnx).Length > 1000);
        AssertUsage(Run("export", "onnx", Path.Combine(run, "checkpoint.safetensors")), "--out");
        AssertUsage(Run("train", "--resume", Path.Combine(run, "checkpoint.safetensors"), "--arch", "resnet"), "with its own network and data; drop the network and data options");
        AssertUsage(Run("train", "--resume", Path.Combine(run, "checkpoint.safetensors"), "--steps", "10"), "already at step 40");
        AssertUsage(Run("eval", Path.Combine(_dir, "missing.safetensors")), "model file not found");
    }

    [Fact]
    public void BareStateDictOfAnotherArchitecture_NamesTheTensor()
    {
        string path = Path.Combine(_dir, "mlp.safetensors");
        NormNet.Serialization.ModelState.Save(NormNet.Models.Architectures.MlpSigmoid(false, new Rng(1)), path);
        AssertUsage(Run("eval", path, "--arch", "cnn", "--bn", "off"), "'0.weight'");
    }
}

[CollectionDefinition("Console", DisableParallelization = true)]
public sealed class ConsoleCollection;
