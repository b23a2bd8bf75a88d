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
        Assert.All(rows, r => Assert.Equal(0, r.GetProperty("allocated_bytes_per_call").GetDouble()));
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

    private static string FindRepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, relative))) return Path.Combine(dir.FullName, relative);
        throw new FileNotFoundException(relative);
    }
}
