using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using NormNet.Serialization;
using Xunit.Abstractions;

namespace NormNet.Tests.Distributed;

/// <summary><c>mpiexec -n N normnet train</c>: resuming on the same or another number of ranks, ranks that disagree,
/// and a rank killed mid-run.</summary>
public sealed partial class DistributedCliTests(ITestOutputHelper log) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-mpi-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private string Csv()
    {
        var rng = new Random(1);
        var lines = new List<string> { "length,width,noise,species" };
        string[] species = ["setosa", "versicolor", "virginica"];
        for (int i = 0; i < 300; i++)
        {
            double a = rng.NextDouble() * 4 - 2, b = rng.NextDouble() * 4 - 2, c = rng.NextDouble() * 4 - 2;
            int k = i % 3;
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{100 + 5 * k + a:F3},{-3 * k + b:F3},{c:F3},{species[k]}"));
        }
        File.WriteAllLines(P("iris.csv"), lines);
        return P("iris.csv");
    }

    private static string[] Train(string csv, string outDir, int steps, params string[] extra) =>
        ["train", "--data", csv, "--arch", "mlp", "--hidden", "16", "--steps", steps.ToString(CultureInfo.InvariantCulture),
         "--batch-size", "30", "--lr", "0.1", "--eval-every", "10", "--out", outDir, "--sync-bn", .. extra];

    private MpiRun.Result Ok(string mpiexec, int ranks, string[] args)
    {
        var r = MpiRun.Run(mpiexec, ranks, MpiRun.Cli, args);
        log.WriteLine($"-n {ranks} {string.Join(' ', args)}: {r.ExitCode} in {r.Elapsed.TotalSeconds:0.0} s\n{r.All}");
        Assert.True(r.ExitCode == 0, r.All);
        return r;
    }

    private static Dictionary<string, float[]> Tensors(string path) =>
        SafeTensors.Load(path).Entries.Where(e => e.DType == "F32").ToDictionary(e => e.Name, e => e.ToFloat32());

    [Fact]
    public void Resume_OnTheSameRanks_IsBitIdentical_AndOnAnotherNumberOfRanks_Continues()
    {
        if (MpiRun.Mpiexec() is not { } mpiexec) return;
        string csv = Csv();
        var whole = Ok(mpiexec, 2, Train(csv, P("whole"), 40));
        Assert.Contains("Data-parallel: 2 ranks", whole.Output);
        Assert.Single(Regex.Matches(whole.Output, "Wrote checkpoint")); // rank 0 alone reports and writes
        Ok(mpiexec, 2, Train(csv, P("half"), 20));
        File.Copy(P("half/checkpoint.safetensors"), P("half3.safetensors"));
        // --sync-bn is not repeated: the checkpoint's settings keep it (bit-identical only with SyncBN, as the whole run had)
        var resumed = Ok(mpiexec, 2, ["train", "--resume", P("half/checkpoint.safetensors"), "--steps", "40"]);
        Assert.Contains("SyncBatchNorm", resumed.Output);
        var expected = Tensors(P("whole/model.safetensors"));
        var actual = Tensors(P("half/model.safetensors"));
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, values) in expected) Assert.True(values.SequenceEqual(actual[name]), $"{name} differs after resuming on 2 ranks");
        Directory.CreateDirectory(P("three"));
        File.Copy(P("half3.safetensors"), P("three/checkpoint.safetensors"));
        var three = Ok(mpiexec, 3, ["train", "--resume", P("three/checkpoint.safetensors"), "--steps", "40"]);
        Assert.Contains("SyncBatchNorm", three.Output);
        Assert.Contains("Data-parallel: 3 ranks", three.Output);
        Assert.Contains("Resumed from", three.Output);
        Assert.Equal("40", SafeTensors.Load(P("three/checkpoint.safetensors")).Metadata["step"]);
    }

    [Fact]
    public void RanksWithDifferentSettings_StopWithOneLine()
    {
        if (MpiRun.Mpiexec() is not { } mpiexec) return;
        string csv = Csv();
        string[] rank0 = ["-n", "1", "dotnet", MpiRun.Cli, .. Train(csv, P("a"), 20)];
        string[] rank1 = ["-n", "1", "dotnet", MpiRun.Cli, .. Train(csv, P("a"), 20, "--weight-decay", "0.001")];
        var r = MpiRun.RunRaw(mpiexec, [.. rank0, ":", .. rank1]);
        log.WriteLine(r.All);
        Assert.Equal(2, r.ExitCode);
        var lines = r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines, l => l.StartsWith("normnet:", StringComparison.Ordinal));
        Assert.Contains("normnet: the settings (command-line options, data or checkpoint) on rank 1 of 2 differ from rank 0's", r.Error);
        Assert.False(File.Exists(P("a/checkpoint.safetensors")));
    }

    [Fact]
    public void KilledRank_EndsTheJobNonZero_NamingItsProcess_AndTheLastCheckpointStaysValid()
    {
        if (MpiRun.Mpiexec() is not { } mpiexec) return;
        string csv = Csv(), checkpoint = P("run/checkpoint.safetensors");
        int victim = 0;
        var watch = Stopwatch.StartNew();
        var r = MpiRun.Run(mpiexec, 2, MpiRun.Cli, Train(csv, P("run"), 100000), TimeSpan.FromSeconds(90), onLine: (_, line) =>
        {
            var m = PidOfRank1().Match(line);
            if (!m.Success) return;
            victim = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            ThreadPool.QueueUserWorkItem(_ =>
            {
                while (!File.Exists(checkpoint)) Thread.Sleep(20); // a checkpoint has been written: kill rank 1 mid-run
                Thread.Sleep(300);
                Process.GetProcessById(victim).Kill();
            });
        });
        log.WriteLine($"exit {r.ExitCode} after {watch.Elapsed.TotalSeconds:0.0} s\n{r.All}");
        Assert.NotEqual(0, r.ExitCode);
        Assert.NotEqual(0, victim);
        Assert.Contains($"PID {victim} ", r.All); // mpiexec names the dead process; rank 0's first line maps it to rank 1
        var meta = SafeTensors.Load(checkpoint, verifyChecksum: true).Metadata;
        long step = long.Parse(meta["step"], CultureInfo.InvariantCulture);
        Assert.True(step > 0 && step % 10 == 0, $"checkpoint at step {step}");
        var resumed = Ok(mpiexec, 2, ["train", "--resume", checkpoint, "--steps", (step + 10).ToString(CultureInfo.InvariantCulture), "--sync-bn"]);
        Assert.Contains($"Resumed from {checkpoint} at step {step}", resumed.Output);
    }

    [GeneratedRegex(@"1: pid (\d+) on ")]
    private static partial Regex PidOfRank1();
}
