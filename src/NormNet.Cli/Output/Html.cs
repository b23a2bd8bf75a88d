using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace NormNet.Cli.Output;

/// <summary>Self-contained HTML pages for the reports: one inline style sheet, plots inlined as SVG data URIs,
/// no scripts and nothing fetched from the network, readable on a laptop screen.</summary>
internal static partial class Html
{
    private const string Style = """
        body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b; background: #fff;
               max-width: 62rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
        h1 { font-size: 1.6rem; line-height: 1.25; } h2 { font-size: 1.3rem; margin-top: 2rem; } h3 { font-size: 1.1rem; }
        p { margin: 0.6rem 0; } code { background: #f2f2f2; padding: 0 0.25em; border-radius: 3px; font-size: 0.92em; }
        figure { margin: 1.25rem 0; } figure img { width: 100%; height: auto; border: 1px solid #e4e4e4; }
        figcaption { color: #555; font-size: 0.9rem; }
        .table { overflow-x: auto; margin: 1rem 0; }
        table { border-collapse: collapse; font-size: 0.92rem; font-variant-numeric: tabular-nums; }
        th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: right; vertical-align: top; }
        th:first-child, td:first-child, table.text th, table.text td { text-align: left; } th { background: #f6f6f6; }
        .verdict { border-left: 4px solid #1f77b4; padding: 0.4rem 0.9rem; background: #f4f8fc; }
        a { color: #1a5fb4; }
        """;

    /// <summary>A whole page.</summary>
    public static string Page(string title, string body) =>
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n" +
        $"<title>{WebUtility.HtmlEncode(title)}</title>\n<style>\n{Style}\n</style>\n</head>\n<body>\n{body}</body>\n</html>\n";

    /// <summary>A figure with the SVG beside <paramref name="png"/> inlined as a data URI (the PNG if there is no SVG).</summary>
    public static string Figure(string dir, string png, string alt)
    {
        string svg = Path.Combine(dir, Path.ChangeExtension(png, ".svg"));
        string uri = File.Exists(svg)
            ? "data:image/svg+xml;base64," + Convert.ToBase64String(File.ReadAllBytes(svg))
            : "data:image/png;base64," + Convert.ToBase64String(File.ReadAllBytes(Path.Combine(dir, png)));
        string a = WebUtility.HtmlEncode(alt);
        return $"<figure><img src=\"{uri}\" alt=\"{a}\"><figcaption>{a}</figcaption></figure>\n";
    }

    /// <summary>Light markdown to HTML: escapes, then **bold**, *italic*, `code` and [text](link).</summary>
    public static string Inline(string markdown)
    {
        string s = WebUtility.HtmlEncode(markdown);
        s = CodeSpan().Replace(s, "<code>$1</code>");
        s = Bold().Replace(s, "<strong>$1</strong>");
        s = Italic().Replace(s, "<em>$1</em>");
        s = Link().Replace(s, m => $"<a href=\"{m.Groups[2].Value.Replace("report.md", "report.html", StringComparison.Ordinal)}\">{m.Groups[1].Value}</a>");
        return s;
    }

    [GeneratedRegex(@"`([^`]+)`")] private static partial Regex CodeSpan();
    [GeneratedRegex(@"\*\*([^*]+)\*\*")] private static partial Regex Bold();
    [GeneratedRegex(@"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])")] private static partial Regex Italic();
    [GeneratedRegex(@"\[([^\]]+)\]\(([^)\s]+)\)")] private static partial Regex Link();
}
