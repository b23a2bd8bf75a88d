using NormNet.Cli;
using NormNet.Cli.Experiments;
using NormNet.Cli.Output;
using NormNet.Tests.Cli;
using Xunit.Abstractions;

namespace NormNet.Tests.Distributed;

/// <summary><c>normnet experiment sync-bn</c>: its smoke run for real (three <c>normnet train</c> child processes, two of
/// them under <c>mpiexec -n 2</c>), and that it is accepted by name although <c>all</c> leaves it out.</summary>
[Collection("Console")]
public sealed class SyncBnExperimentTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-syncbn-exp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Smoke_RunsTheRanksUnderMpiexec_AndWritesResultsAndReport()
    {
        if (MpiRun.Mpiexec() is null) return;
        string dir = Path.Combine(_dir, "sync-bn");
        var r = CliTests.Run("experiment", "sync-bn", "--smoke", "--out", dir, "--seed", "3");
        log.WriteLine(r.Output + r.Error);
        Assert.True(r.Code == 0, r.Error);
        var results = ResultsTable.Load(Path.Combine(dir, "results.csv"));
        Assert.Equal([3UL], results.Seeds());
        foreach (var (series, _, _) in SyncBnExperiment.Runs)
        {
            double accuracy = results.Get("final", series, "test_accuracy", seed: 3);
            Assert.InRange(accuracy, 0.0, 1.0);
            Assert.True(double.IsFinite(results.Get("final", series, "train_loss", seed: 3)), series);
        }
        // SyncBN on 2 x 4 is the single process at 8 up to float rounding; per-rank statistics of 4 samples are not
        Assert.InRange(results.Get("tracking", "sync", "max_abs_loss_difference", seed: 3), 0, 1e-4);
        Assert.True(results.Get("tracking", "per_rank", "max_abs_loss_difference", seed: 3) > 1e-3);
        string report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("**Verdict.** smoke run: no verdict", report);
        Assert.Contains("2 ranks x 4, SyncBN", report);
        Assert.True(File.Exists(Path.Combine(dir, "report.html")), "report.html missing");
        foreach (var png in new[] { "test_accuracy.png", "train_loss.png", "loss_difference.png" })
            Assert.True(new FileInfo(Path.Combine(dir, png)).Length > 5000, $"{png} is missing or empty");
        Assert.False(Directory.Exists(Path.Combine(dir, "runs")), "the child runs' folders are left behind");
    }

    [Fact]
    public void WithoutMpiexec_ItFailsNamingWhatIsMissing()
    {
        var e = Assert.Throws<CommandFailedException>(() => ChildTraining.FindMpiexec(_dir, "sync-bn"));
        Assert.Contains("mpiexec", e.Message);
        Assert.Contains("install MPICH", e.Message);
        Assert.Contains("not on PATH", e.Message);
    }

    [Fact]
    public void IsAcceptedByName_ButNotPartOfAll()
    {
        Assert.DoesNotContain(ExperimentRunner.All, e => e.Name == "sync-bn");
        Assert.Equal("sync-bn", ExperimentRunner.Find("sync-bn", out bool renamed).Name);
        Assert.False(renamed);
        var r = CliTests.Run("experiment", "no-such-experiment");
        Assert.Equal(2, r.Code);
        Assert.Contains("sync-bn", r.Error);
    }
}
