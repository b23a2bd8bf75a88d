using System.Globalization;
using System.Text;

namespace NormNet.Cli.Output;

/// <summary>Builds a report.md: headings, paragraphs, tables and embedded plots, numbers formatted invariantly.</summary>
internal sealed class ReportWriter
{
    private readonly StringBuilder _text = new();

    public ReportWriter Heading(string text, int level = 2)
    {
        _text.Append('\n').Append(new string('#', level)).Append(' ').Append(text).Append("\n\n");
        return this;
    }

    public ReportWriter Paragraph(string text)
    {
        _text.Append(text.Trim()).Append("\n\n");
        return this;
    }

    public ReportWriter Image(string file, string alt)
    {
        _text.Append($"![{alt}]({file})\n\n");
        return this;
    }

    public ReportWriter Table(string[] header, IEnumerable<string[]> rows)
    {
        _text.Append("| ").Append(string.Join(" | ", header)).Append(" |\n");
        _text.Append('|').Append(string.Concat(header.Select((_, i) => i == 0 ? "---|" : "---:|"))).Append('\n');
        foreach (var row in rows) _text.Append("| ").Append(string.Join(" | ", row)).Append(" |\n");
        _text.Append('\n');
        return this;
    }

    public override string ToString() => _text.ToString();

    /// <summary>A number with <paramref name="digits"/> decimals, invariant culture.</summary>
    public static string N(double v, int digits = 3) => double.IsNaN(v) ? "n/a" : v.ToString("F" + digits, CultureInfo.InvariantCulture);

    /// <summary>A fraction as a percentage with two decimals.</summary>
    public static string Pct(double v) => double.IsNaN(v) ? "n/a" : (100 * v).ToString("F2", CultureInfo.InvariantCulture) + "%";

    /// <summary>A number in general format (learning rates, small values).</summary>
    public static string G(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
}
