using System.Globalization;
using System.Text;

namespace NormNet.Cli.Output;

/// <summary>Builds a report as a list of blocks (headings, paragraphs in light markdown, tables, plots), written as
/// report.md and as the body of a self-contained report.html; numbers formatted invariantly.</summary>
internal sealed class ReportWriter
{
    private abstract record Block;
    private sealed record HeadingBlock(string Text, int Level) : Block;
    private sealed record ParagraphBlock(string Text) : Block;
    private sealed record ImageBlock(string File, string Alt) : Block;
    private sealed record TableBlock(string[] Header, List<string[]> Rows, bool Text) : Block;

    private readonly List<Block> _blocks = [];

    public ReportWriter Heading(string text, int level = 2) => With(new HeadingBlock(text, level));

    public ReportWriter Paragraph(string text) => With(new ParagraphBlock(text.Trim()));

    /// <summary>A plot: <paramref name="file"/> is the PNG beside the report; the HTML inlines the SVG of the same name.</summary>
    public ReportWriter Image(string file, string alt) => With(new ImageBlock(file, alt));

    /// <summary>A table; columns after the first are right-aligned (numbers) unless <paramref name="text"/>.</summary>
    public ReportWriter Table(string[] header, IEnumerable<string[]> rows, bool text = false) => With(new TableBlock(header, rows.ToList(), text));

    /// <summary>The PNG file names of the plots, in order.</summary>
    public IEnumerable<string> Images => _blocks.OfType<ImageBlock>().Select(b => b.File);

    private ReportWriter With(Block b)
    {
        _blocks.Add(b);
        return this;
    }

    /// <summary>The markdown of report.md.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var block in _blocks)
            switch (block)
            {
                case HeadingBlock h: text.Append('\n').Append(new string('#', h.Level)).Append(' ').Append(h.Text).Append("\n\n"); break;
                case ParagraphBlock p: text.Append(p.Text).Append("\n\n"); break;
                case ImageBlock i: text.Append($"![{i.Alt}]({i.File})\n\n"); break;
                case TableBlock t:
                    text.Append("| ").Append(string.Join(" | ", t.Header)).Append(" |\n");
                    text.Append('|').Append(string.Concat(t.Header.Select((_, k) => k == 0 || t.Text ? "---|" : "---:|"))).Append('\n');
                    foreach (var row in t.Rows) text.Append("| ").Append(string.Join(" | ", row)).Append(" |\n");
                    text.Append('\n');
                    break;
            }
        return text.ToString();
    }

    /// <summary>The HTML body, plots inlined from the SVG files in <paramref name="dir"/>.</summary>
    public string ToHtml(string dir)
    {
        var html = new StringBuilder();
        foreach (var block in _blocks)
            switch (block)
            {
                case HeadingBlock h: html.Append($"<h{h.Level + 1}>{Html.Inline(h.Text)}</h{h.Level + 1}>\n"); break;
                case ParagraphBlock p: html.Append($"<p>{Html.Inline(p.Text)}</p>\n"); break;
                case ImageBlock i: html.Append(Html.Figure(dir, i.File, i.Alt)); break;
                case TableBlock t:
                    html.Append(t.Text ? "<div class=\"table\"><table class=\"text\">\n<thead><tr>" : "<div class=\"table\"><table>\n<thead><tr>").Append(string.Concat(t.Header.Select(c => $"<th>{Html.Inline(c)}</th>"))).Append("</tr></thead>\n<tbody>\n");
                    foreach (var row in t.Rows) html.Append("<tr>").Append(string.Concat(row.Select(c => $"<td>{Html.Inline(c)}</td>"))).Append("</tr>\n");
                    html.Append("</tbody></table></div>\n");
                    break;
            }
        return html.ToString();
    }

    /// <summary>A number with <paramref name="digits"/> decimals, invariant culture.</summary>
    public static string N(double v, int digits = 3) => double.IsNaN(v) ? "n/a" : v.ToString("F" + digits, CultureInfo.InvariantCulture);

    /// <summary>A fraction as a percentage with two decimals.</summary>
    public static string Pct(double v) => double.IsNaN(v) ? "n/a" : (100 * v).ToString("F2", CultureInfo.InvariantCulture) + "%";

    /// <summary>A difference of fractions in percentage points, signed, two decimals.</summary>
    public static string Pp(double v) => double.IsNaN(v) ? "n/a" : (100 * v).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " pp";

    /// <summary>"1 seed", "3 seeds".</summary>
    public static string Seeds(int n) => n == 1 ? "1 seed" : $"{n} seeds";

    /// <summary>A number in general format (learning rates, small values).</summary>
    public static string G(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
}
