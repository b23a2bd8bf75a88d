using NormNet.Cli.Experiments;
using NormNet.Cli.Output;

namespace NormNet.Tests.Cli;

/// <summary>Every experiment end to end at smoke size, the report writer, and reproducible results.</summary>
[Collection("Console")]
public sealed class ExperimentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-exp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var e in ExperimentRunner.All) data.Add(e.Name);
        return data;
    }

    [Theory, MemberData(nameof(Names))]
    public void Experiment_RunsEndToEnd_AndWritesItsReport(string name)
    {
        string dir = Path.Combine(_dir, name);
        var r = CliTests.Run("experiment", name, "--smoke", "--out", dir, "--seed", "5");
        Assert.True(r.Code == 0, r.Error);
        var results = ResultsTable.Load(Path.Combine(dir, "results.csv"));
        Assert.NotEmpty(results.Rows);
        string report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("**Claim tested.**", report);
        Assert.Contains("**Verdict.**", report);
        Assert.Contains("Seed 5", report);
        Assert.Contains("wall time", report);
        Assert.Contains("**Verdict.** smoke run: no verdict", report);
        Assert.Contains("## Protocol", report);
        Assert.True(File.Exists(Path.Combine(dir, "report.html")), "report.html missing");
        foreach (var image in System.Text.RegularExpressions.Regex.Matches(report, @"\]\(([^)]+\.png)\)").Select(m => m.Groups[1].Value))
        {
            Assert.True(new FileInfo(Path.Combine(dir, image)).Length > 5000, $"{image} is missing or empty");
            Assert.True(File.Exists(Path.Combine(dir, Path.ChangeExtension(image, ".svg"))), $"{image}: SVG missing");
        }
        Assert.True(File.Exists(Path.Combine(dir, "timing.csv")));
    }

    /// <summary>Two threads run two trainings at once, one runs them in turn: the same file either way.</summary>
    [Theory]
    [InlineData("fig1", 1), InlineData("learning-rate", 1), InlineData("covariate-shift", 1), InlineData("small-batch", 1),
     InlineData("regularization", 1), InlineData("inference", 2)]
    public void SameSeed_GivesTheSameResultsCsv_OnOneThreadOrTwo(string name, int seeds)
    {
        string a = Path.Combine(_dir, name + "-a"), b = Path.Combine(_dir, name + "-b"), n = seeds.ToString();
        var two = CliTests.Run("experiment", name, "--smoke", "--out", a, "--seed", "9", "--seeds", n, "--threads", "2");
        Assert.True(two.Code == 0, two.Error);
        var one = CliTests.Run("experiment", name, "--smoke", "--out", b, "--seed", "9", "--seeds", n, "--threads", "1");
        Assert.True(one.Code == 0, one.Error);
        Assert.Equal(File.ReadAllText(Path.Combine(a, "results.csv")), File.ReadAllText(Path.Combine(b, "results.csv")));
    }

    [Fact]
    public void Reuse_RewritesTheReportFromResultsCsv_WithoutMeasuringAgain_AndRefusesOtherSeeds()
    {
        string dir = Path.Combine(_dir, "reuse");
        Assert.Equal(0, CliTests.Run("experiment", "fig1", "--smoke", "--out", dir, "--seed", "4").Code);
        string csv = Path.Combine(dir, "results.csv"), report = Path.Combine(dir, "report.md");
        string measured = File.ReadAllText(csv);
        File.Delete(report);
        File.SetLastWriteTimeUtc(csv, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        var again = CliTests.Run("experiment", "fig1", "--smoke", "--out", dir, "--seed", "4", "--reuse");
        Assert.True(again.Code == 0, again.Error);
        Assert.Contains("reusing the measurements", again.Output);
        Assert.Equal(new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc), File.GetLastWriteTimeUtc(csv));
        Assert.Equal(measured, File.ReadAllText(csv));
        Assert.Contains("**Verdict.**", File.ReadAllText(report));
        var other = CliTests.Run("experiment", "fig1", "--smoke", "--out", dir, "--seed", "7", "--reuse");
        Assert.Equal(2, other.Code);
        Assert.Contains("holds seeds 4 but this run asks for 7", other.Error);
        Assert.Equal(2, CliTests.Run("experiment", "fig1", "--smoke", "--reuse").Code);
    }

    [Fact]
    public void Mnist_IsAnAliasOfFig1_ThatSaysItWasRenamed()
    {
        string dir = Path.Combine(_dir, "alias");
        var (code, _, output) = CliTests.Run("experiment", "mnist", "--smoke", "--out", dir);
        Assert.Equal(0, code);
        Assert.Contains("renamed 'fig1'", output);
        Assert.Contains("normnet experiment fig1", File.ReadAllText(Path.Combine(dir, "report.md")));
    }

    [Fact]
    public void SeedsAndProtocol_ComeFromTheCommandLine_AndTheReportStatesThem()
    {
        string dir = Path.Combine(_dir, "protocol");
        var r = CliTests.Run("experiment", "fig1", "--smoke", "--seeds", "2", "--steps", "30", "--lr", "0.2", "--init-std", "0.07,0.1", "--out", dir);
        Assert.True(r.Code == 0, r.Error);
        var results = ResultsTable.Load(Path.Combine(dir, "results.csv"));
        Assert.Equal([1UL, 2UL], results.Seeds());
        Assert.Equal(30, results.Get("settings", "run", "steps"));
        Assert.Equal([0.07, 0.1], results.Series("settings", "grid", "init_stds").Y);
        Assert.Equal([0.2], results.Series("settings", "grid", "learning_rates").Y);
        string report = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains("| init stds | 0.07, 0.1 | `--init-std` |", report);
        Assert.Contains("2 seeds (1, 2)", report);
        Assert.Equal(2, CliTests.Run("experiment", "inference", "--smoke", "--lr", "0.1,0.5", "--out", dir).Code);
        Assert.Equal(2, CliTests.Run("experiment", "all", "--smoke", "--steps", "10", "--out", dir).Code);
        Assert.Equal(2, CliTests.Run("experiment", "fig1", "--smoke", "--lr", "fast", "--out", dir).Code);
    }

    [Fact]
    public void ResultsTable_RoundTripsExactly_AndRejectsBadFiles()
    {
        var t = new ResultsTable();
        t.Add("curve", "bn", 100, "test_accuracy", 0.1 + 0.2);
        t.Add("summary", "bn", null, "final", double.NaN);
        t.Add("summary", "bn", null, "final", 0.5, seed: 3);
        t.Add("summary", "bn", null, "final", 0.7, seed: 1);
        string path = Path.Combine(_dir, "r.csv");
        t.Save(path);
        var back = ResultsTable.Load(path);
        Assert.Equal(0.1 + 0.2, back.Get("curve", "bn", "test_accuracy", 100));
        Assert.True(double.IsNaN(back.Get("summary", "bn", "final")));
        Assert.Equal(0.5, back.Get("summary", "bn", "final", seed: 3));
        Assert.Equal([1UL, 3UL], back.Seeds());
        Assert.Equal([0.7, 0.5], back.PerSeed("summary", "bn", "final"));
        Assert.Throws<ArgumentException>(() => t.Add("a,b", "s", null, "m", 1));
        File.WriteAllText(path, "wrong,header\n");
        Assert.Throws<InvalidDataException>(() => ResultsTable.Load(path));
    }

    [Fact]
    public void ReportWriter_WritesMarkdown()
    {
        var w = new ReportWriter().Heading("Results").Paragraph("text").Table(["a", "b"], [["1", "2"]]).Image("x.png", "alt");
        Assert.Equal("\n## Results\n\ntext\n\n| a | b |\n|---|---:|\n| 1 | 2 |\n\n![alt](x.png)\n\n", w.ToString());
        Assert.Equal("12.35%", ReportWriter.Pct(0.12345));
        Assert.Equal("-1.50 pp", ReportWriter.Pp(-0.015));
        Assert.Equal("a <strong>b</strong> <em>c</em> <code>d &lt; e</code> <a href=\"x/report.html\">f</a>", Html.Inline("a **b** *c* `d < e` [f](x/report.md)"));
    }

    [Fact]
    public void All_WritesAnIndexLinkingEveryReport()
    {
        string dir = Path.Combine(_dir, "all");
        var r = CliTests.Run("experiment", "all", "--smoke", "--out", dir);
        Assert.True(r.Code == 0, r.Error);
        string index = File.ReadAllText(Path.Combine(dir, "index.md"));
        foreach (var e in ExperimentRunner.All)
        {
            Assert.Contains($"]({e.Name}/report.md)", index);
            Assert.True(File.Exists(Path.Combine(dir, e.Name, "report.md")));
        }
        string html = File.ReadAllText(Path.Combine(dir, "index.html"));
        Assert.Contains("data:image/svg+xml;base64,", html);
        foreach (var e in ExperimentRunner.All) Assert.Contains($"href=\"{e.Name}/report.html\"", html);
    }
}
