using System.Diagnostics;
using NormNet.Cli.Commands;

namespace NormNet.Tests.Cli;

/// <summary>What <c>normnet train</c> accepts and refuses before it trains: option ranges, what a resumed run may change,
/// a run folder held by another run, and a network too large for the memory available.</summary>
[Collection("Console")]
public sealed class TrainOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-trainopts-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void AssertUsage((int Code, string Error, string Output) r, string fragment)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}: {r.Error}");
        Assert.Contains(fragment, r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("--lr", "Infinity", "--lr must be positive and finite, got Infinity")]
    [InlineData("--lr", "-1", "--lr must be positive and finite, got -1")]
    [InlineData("--momentum", "2", "--momentum must be in [0, 1], got 2")]
    [InlineData("--weight-decay", "Infinity", "--weight-decay must be non-negative and finite, got Infinity")]
    [InlineData("--init-std", "-1", "--init-std must be positive and finite, got -1")]
    [InlineData("--init-std", "NaN", "--init-std must be positive and finite, got NaN")]
    [InlineData("--batch-size", "100000000", "--batch-size 100000000 is larger than the training set")]
    public void OutOfRangeOptions_AreOneLine_BeforeAnyFolderIsMade(string option, string value, string message)
    {
        string run = Path.Combine(_dir, "never");
        AssertUsage(CliTests.Run("train", "--arch", "mlp-sigmoid", option, value, "--steps", "5", "--out", run), message);
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void Resume_AppliesWhatMayChange_AndRefusesWhatCannot()
    {
        string run = Path.Combine(_dir, "run");
        Assert.Equal(0, CliTests.Run("train", "--arch", "mlp-sigmoid", "--steps", "10", "--out", run).Code);
        string checkpoint = Path.Combine(run, "checkpoint.safetensors");
        AssertUsage(CliTests.Run("train", "--resume", checkpoint, "--steps", "20", "--batch-size", "32"), "trained with --batch-size 60; a resumed run cannot change it (got 32)");
        AssertUsage(CliTests.Run("train", "--resume", checkpoint, "--steps", "20", "--seed", "9"), "trained with --seed 1");
        AssertUsage(CliTests.Run("train", "--resume", checkpoint, "--steps", "20", "--optimizer", "adam"), "trained with --optimizer sgd");
        var resumed = CliTests.Run("train", "--resume", checkpoint, "--steps", "20", "--lr", "0.25", "--eval-every", "5");
        Assert.True(resumed.Code == 0, resumed.Error);
        Assert.Contains("changed: learning rate 0.5 -> 0.25", resumed.Output);
        Assert.Contains("step 15/20", resumed.Output);
        var lr = File.ReadLines(Path.Combine(run, "log.csv")).Skip(1).Select(l => l.Split(',')[4]).ToList();
        Assert.Equal(["0.5", "0.25"], lr.Distinct());
    }

    [Fact]
    public void Resume_KeepsTheCheckpointsSyncBn_AndRefusesAnotherValue_NamingBoth()
    {
        string synced = Path.Combine(_dir, "synced"), plain = Path.Combine(_dir, "plain");
        Assert.Equal(0, CliTests.Run("train", "--arch", "mlp-sigmoid", "--steps", "4", "--sync-bn", "--out", synced).Code);
        Assert.Equal(0, CliTests.Run("train", "--arch", "mlp-sigmoid", "--steps", "4", "--out", plain).Code);
        string a = Path.Combine(synced, "checkpoint.safetensors"), b = Path.Combine(plain, "checkpoint.safetensors");
        Assert.True(Settings(a).SyncBn);
        Assert.False(Settings(b).SyncBn);
        AssertUsage(CliTests.Run("train", "--resume", a, "--steps", "8", "--sync-bn", "false"),
            "was trained with --sync-bn; a resumed run cannot change it (got --sync-bn false)");
        AssertUsage(CliTests.Run("train", "--resume", b, "--steps", "8", "--sync-bn"),
            "was trained without --sync-bn; a resumed run cannot change it (got --sync-bn true)");
        // not given: the checkpoint's value; given alike: accepted
        Assert.Equal(0, CliTests.Run("train", "--resume", a, "--steps", "8").Code);
        Assert.True(Settings(a).SyncBn);
        Assert.Equal(0, CliTests.Run("train", "--resume", b, "--steps", "8", "--sync-bn", "false").Code);
    }

    [Fact]
    public void SettingsWrittenBeforeSyncBnWasStored_ReadAsWithoutIt()
    {
        string run = Path.Combine(_dir, "old");
        Assert.Equal(0, CliTests.Run("train", "--arch", "mlp-sigmoid", "--steps", "2", "--sync-bn", "--out", run).Code);
        var meta = NormNet.Serialization.SafeTensors.Load(Path.Combine(run, "checkpoint.safetensors")).Metadata.ToDictionary();
        string json = meta[TrainSettings.MetadataKey];
        Assert.Contains(",\"SyncBn\":true", json);
        meta[TrainSettings.MetadataKey] = json.Replace(",\"SyncBn\":true", "", StringComparison.Ordinal);
        Assert.False(TrainSettings.FromMetadata(meta, "old.safetensors")!.SyncBn);
    }

    private static TrainSettings Settings(string checkpoint) =>
        TrainSettings.FromMetadata(NormNet.Serialization.SafeTensors.Load(checkpoint).Metadata, checkpoint)!;

    [Fact]
    public void Resume_OnChangedData_IsRefusedUnlessAllowed()
    {
        string csv = Path.Combine(_dir, "t.csv"), run = Path.Combine(_dir, "csvrun");
        File.WriteAllLines(csv, ["a,b,label", .. Enumerable.Range(0, 40).Select(i => $"{i % 7},{i % 5},{(i % 2 == 0 ? "x" : "y")}")]);
        Assert.Equal(0, CliTests.Run("train", "--data", csv, "--arch", "mlp", "--batch-size", "8", "--steps", "4", "--out", run).Code);
        File.AppendAllLines(csv, ["9,9,x"]);
        string checkpoint = Path.Combine(run, "checkpoint.safetensors");
        AssertUsage(CliTests.Run("train", "--resume", checkpoint, "--steps", "8"), "it has changed (--allow-other-data to continue anyway)");
        Assert.Equal(0, CliTests.Run("train", "--resume", checkpoint, "--steps", "8", "--allow-other-data").Code);
    }

    [Fact]
    public void ARunFolderInUse_IsRefused_NamingTheHolder()
    {
        string run = Path.Combine(_dir, "busy");
        using (RunLock.Acquire(run))
            AssertUsage(CliTests.Run("train", "--arch", "mlp-sigmoid", "--steps", "5", "--out", run), $"is in use by another normnet train (pid {Environment.ProcessId}");
        Assert.Equal(0, CliTests.Run("train", "--arch", "mlp-sigmoid", "--steps", "5", "--out", run).Code); // released
    }

    [Fact]
    public void TwoTrainProcessesOnOneFolder_TheSecondFailsAtOnce()
    {
        string run = Path.Combine(_dir, "two");
        string cli = Path.Combine(AppContext.BaseDirectory, "NormNet.Cli.dll");
        var psi = new ProcessStartInfo("dotnet", ["exec", cli, "train", "--arch", "cnn", "--steps", "2000", "--out", run]) { RedirectStandardOutput = true };
        using var first = Process.Start(psi)!;
        try
        {
            var owner = Path.Combine(run, ".normnet.lock.owner");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(owner) && !first.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(50);
            Assert.True(File.Exists(owner), "the first run never took its folder");
            AssertUsage(CliTests.Run("train", "--arch", "mlp-sigmoid", "--steps", "5", "--out", run), $"pid {first.Id}");
        }
        finally
        {
            first.Kill(entireProcessTree: true);
            first.WaitForExit();
        }
        // killed, the first run's lock is gone with its process: the folder can be used again
        Assert.Equal(0, CliTests.Run("train", "--arch", "mlp-sigmoid", "--steps", "5", "--out", run).Code);
    }

    [Fact]
    public void ANetworkTooLargeForMemory_IsRefusedWithTheEstimate()
    {
        string net = Path.Combine(_dir, "huge.json");
        File.WriteAllText(net, "{\"layers\": [{\"type\": \"Flatten\"}, " + string.Join(", ", Enumerable.Repeat("{\"type\": \"Linear\", \"out_features\": 4000000}", 40))
            + ", {\"type\": \"Linear\", \"out_features\": \"$outputs\"}]}");
        var r = CliTests.Run("train", "--model", net, "--steps", "1", "--batch-size", "60", "--out", Path.Combine(_dir, "huge"));
        AssertUsage(r, "GiB for its activations");
        Assert.Contains("lower --batch-size or --image-size", r.Error);
    }
}
