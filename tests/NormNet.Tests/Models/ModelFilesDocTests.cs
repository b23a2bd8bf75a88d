using System.Text.RegularExpressions;
using NormNet.Models;

namespace NormNet.Tests.Models;

/// <summary>Keeps docs/model-files.md honest: every JSON example parses and builds for the input shape its first
/// line states, and the messages it lists are the library's.</summary>
public sealed class ModelFilesDocTests
{
    private static string Doc()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "docs", "model-files.md");
            if (File.Exists(candidate)) return File.ReadAllText(candidate);
        }
        throw new FileNotFoundException("docs/model-files.md");
    }

    [Fact]
    public void EveryJsonExample_BuildsForItsStatedInput()
    {
        var blocks = Regex.Matches(Doc(), "```json\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToList();
        Assert.True(blocks.Count >= 3, $"expected the three examples, found {blocks.Count}");
        foreach (var block in blocks)
        {
            var stated = Regex.Match(block, @"^// input \[([0-9, ]+)\]");
            Assert.True(stated.Success, $"an example must start with '// input [...]': {block[..Math.Min(60, block.Length)]}");
            int[] shape = stated.Groups[1].Value.Split(',').Select(s => int.Parse(s.Trim(), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            var spec = NetworkSpec.Parse(block, "docs/model-files.md");
            var model = spec.Build(shape, 10, new Rng(1));
            Assert.Equal(spec.Resolve(shape, 10), NetworkSpec.Describe(model));
        }
    }

    [Fact]
    public void TheListedShapeErrors_AreTheLibrarysMessages()
    {
        string doc = Doc();
        string linearOnImage = NetworkSpec.Parse("""{"layers": [{"type": "ReLU"}, {"type": "ReLU"}, {"type": "ReLU"}, {"type": "Linear", "out_features": 10}]}""", "net.json")
            .OutputShapeError([64, 7, 7]);
        Assert.Contains(linearOnImage, doc);
        string invalid = Assert.Throws<InvalidDataException>(() => NetworkSpec.Parse("{\"layers\": [\n  {\"type\": \"ReLU\"}\n  {\"type\": \"Tanh\"}]}", "net.json")).Message;
        Assert.Contains(invalid, doc);
    }
}

internal static class SpecTestExtensions
{
    /// <summary>The message of the error that shape inference gives on <paramref name="inputShape"/>.</summary>
    public static string OutputShapeError(this NetworkSpec spec, int[] inputShape) =>
        Assert.Throws<InvalidDataException>(() => spec.OutputShape(inputShape, 10)).Message;
}
