using System.Diagnostics;
using System.Text.Json;
using NormNet.Bench;

namespace NormNet.Tests.Cli;

/// <summary>The benchmark command starts and produces its rows (benchmarks are not tests: no timing is asserted).</summary>
[Collection("Console")]
public class BenchmarkSmokeTests
{
    [Fact]
    public void RowsCommand_PrintsOneJsonObjectPerRow()
    {
        var output = new StringWriter();
        var saved = Console.Out;
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, RowRunner.Run(["--threads", "1", "--filter", "60x100"]));
        }
        finally
        {
            Console.SetOut(saved);
        }
        var rows = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["bn train-fwd 60x100", "bn backward 60x100", "bn eval-fwd 60x100"], rows.Select(r => r.GetProperty("id").GetString()));
        Assert.All(rows, r => Assert.True(r.GetProperty("median_ms").GetDouble() > 0));
        // The command's figure is process-wide (GC.GetTotalAllocatedBytes): in this test process it also counts what
        // tests running beside it allocate (8.4 bytes per call once in CI), so only its form is checked here; the rows'
        // own work is checked on this thread below.
        Assert.All(rows, r => Assert.True(r.GetProperty("allocated_bytes_per_call").GetDouble() >= 0));
    }

    [Fact]
    public void BatchNormRows_AllocateNothingInSteadyState()
    {
        using var compute = global::NormNet.Threading.ComputeSettings.Use(new global::NormNet.Threading.ComputeSettings(1));
        var rows = Rows.All().Where(r => r.Id.Contains("60x100", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, rows.Count);
        foreach (var row in rows)
        {
            var action = row.Setup();
            for (int i = 0; i < 5; i++) action();
            SteadyStateAllocation.AssertNone(() => { for (int i = 0; i < 20; i++) action(); }, row.Id);
        }
    }

    [Fact]
    public void EveryRow_HasAPeerRowOfTheSameName()
    {
        string peer = File.ReadAllText(FindRepoFile(Path.Combine("bench", "peer", "pytorch_rows.py")));
        Assert.Contains("bn train-fwd", peer);
        Assert.Contains("step bn=", peer);
        foreach (var shape in Rows.BatchNormShapes) Assert.Contains($"\"{shape}\"", peer);
        Assert.Contains("torch.nn.GroupNorm(GROUPS, d[1])", peer);
        Assert.Contains("torch.nn.LayerNorm(d[-1])", peer);
        Assert.Contains($"GROUPS = {NormRows.Groups}", peer);
        foreach (var shape in NormRows.GroupNormShapes.Concat(NormRows.LayerNormShapes)) Assert.Contains($"\"{shape}\"", peer);
    }

    [Fact]
    public void SelfInvocation_PassesTheDllOnlyToTheDotnetHost()
    {
        string dll = Path.Combine(Path.GetTempPath(), "b", "NormNet.Bench.dll");
        string apphost = Path.ChangeExtension(dll, OperatingSystem.IsWindows() ? ".exe" : null);
        Assert.Equal((apphost, "stream --threads 1"), Compare.SelfInvocation(apphost, dll, "stream --threads 1"));
        Assert.Equal(("/usr/bin/dotnet", $"\"{dll}\" rows"), Compare.SelfInvocation("/usr/bin/dotnet", dll, "rows"));
    }

    /// <summary>The README's command as `dotnet run` starts it (the apphost), with a stand-in peer that reports a
    /// PyTorch row 47.6 ms at (60, 100): the comparison completes and flags the row instead of quoting a ~5000x
    /// speedup silently.</summary>
    [Fact]
    public async Task Compare_UnderTheApphost_Completes_AndFlagsAPeerRowFarOffItsUsualFigure()
    {
        if (OperatingSystem.IsWindows()) return; // the stand-in peer is a shell script
        string dir = Directory.CreateTempSubdirectory("normnet-bench-").FullName;
        try
        {
            string peer = Path.Combine(dir, "peer.sh");
            File.WriteAllText(peer, "#!/bin/sh\necho '{\"id\": \"bn eval-fwd 60x100\", \"median_ms\": 47.6, \"min_bytes\": 0}'\n");
            File.SetUnixFileMode(peer, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "NormNet.Bench"))
            {
                WorkingDirectory = Path.GetDirectoryName(FindRepoFile("BENCHMARKS.md"))!,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (string a in new[] { "compare", "--threads", "1", "--rounds", "1", "--filter", "bn eval-fwd 60x100", "--python", peer })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = await p.StandardOutput.ReadToEndAsync();
            string errors = await stderr;
            await p.WaitForExitAsync();
            Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {errors}");
            Assert.Contains("| bn eval-fwd 60x100 |", stdout);
            Assert.Contains("| 47.60 |", stdout);
            Assert.Contains("x (suspect) |", stdout);
            Assert.Contains("warning: PyTorch's 'bn eval-fwd 60x100' (1 threads) took 47.60 ms", stdout);
            Assert.Contains("warning: PyTorch's 'bn eval-fwd 60x100'", errors);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void PeerSanity_AcceptsFiguresWithin100x_AndWarnsBeyond()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(file, ["Threads: 2. Bandwidth probe", "", "| row | NormNet ms | PyTorch ms |", "|---|---:|---:|", "| bn train-fwd 60x100 | 0.003 | 0.046 | 14.07x |"]);
            var sanity = PeerSanity.Read(file);
            Assert.Null(sanity.Check(2, "bn train-fwd 60x100", 0.046 * 99));
            Assert.Null(sanity.Check(2, "bn train-fwd 60x100", 0.046 / 99));
            Assert.Null(sanity.Check(1, "bn train-fwd 60x100", 47.6));     // no usual figure at 1 thread
            Assert.Contains("1035x its usual 0.046 ms", sanity.Check(2, "bn train-fwd 60x100", 47.6));
            Assert.Contains("1/460 of its usual", sanity.Check(2, "bn train-fwd 60x100", 0.0001));
            Assert.Null(PeerSanity.Read(Path.Combine(file, "missing")).Check(2, "bn train-fwd 60x100", 47.6));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string FindRepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException(relative);
    }
}
