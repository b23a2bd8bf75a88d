using System.Text.RegularExpressions;

namespace NormNet.Tests;

/// <summary>Keeps the C# examples of README.md and of each package's README compiling: each block's lines must appear, in order, in ReadmeExamples.cs,
/// which is compiled and run with the tests.</summary>
public class ReadmeTests
{
    private static string RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException(relative);
    }

    [Theory]
    [InlineData("README.md", 4)]
    [InlineData("src/NormNet/README.md", 1)]
    [InlineData("src/NormNet.Onnx/README.md", 1)]
    [InlineData("src/NormNet.Samples/README.md", 1)]
    [InlineData("src/NormNet.Images/README.md", 1)]
    public void EveryCSharpBlockOfTheReadme_IsInTheCompiledExamples(string file, int minBlocks)
    {
        string readme = File.ReadAllText(RepoFile(file));
        var examples = File.ReadAllLines(RepoFile(Path.Combine("tests", "NormNet.Tests", "ReadmeExamples.cs"))).Select(l => l.Trim()).ToList();
        var blocks = Regex.Matches(readme, "```csharp\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToList();
        Assert.True(blocks.Count >= minBlocks, $"expected {file}'s C# examples, found {blocks.Count}");
        foreach (var block in blocks)
        {
            int at = 0;
            foreach (var line in block.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0))
            {
                int found = examples.IndexOf(line, at);
                Assert.True(found >= 0, $"README line not in ReadmeExamples.cs (in order): {line}");
                at = found + 1;
            }
        }
    }
}
