using System.Globalization;
using System.Text;

namespace NormNet.Cli.Output;

/// <summary>One measured number: which part of the experiment (section), which variant (series), at which
/// step or setting (x; empty when not applicable), what (metric), and the value.</summary>
internal sealed record ResultRow(string Section, string Series, double? X, string Metric, double Value);

/// <summary>
/// An experiment's results in long format, written as results.csv (columns section,series,x,metric,value) with
/// round-trip number formatting, so the same seed gives the same file, and read back so that every number in a
/// report comes from the file.
/// </summary>
internal sealed class ResultsTable
{
    private const string Header = "section,series,x,metric,value";
    private readonly List<ResultRow> _rows = [];

    public IReadOnlyList<ResultRow> Rows => _rows;

    public void Add(string section, string series, double? x, string metric, double value)
    {
        foreach (var s in new[] { section, series, metric })
            if (s.Contains(',') || s.Contains('\n')) throw new ArgumentException($"Result labels must not contain commas: '{s}'.");
        _rows.Add(new ResultRow(section, series, x, metric, value));
    }

    /// <summary>The single value with these labels (x ignored when null).</summary>
    public double Get(string section, string series, string metric, double? x = null)
    {
        var match = _rows.Where(r => r.Section == section && r.Series == series && r.Metric == metric && (x is null || r.X == x)).ToList();
        return match.Count == 1 ? match[0].Value
            : throw new KeyNotFoundException($"results: expected one row {section}/{series}/{metric}{(x is null ? "" : $"@{x}")}, found {match.Count}.");
    }

    public bool TryGet(string section, string series, string metric, out double value)
    {
        var match = _rows.Where(r => r.Section == section && r.Series == series && r.Metric == metric).ToList();
        value = match.Count == 1 ? match[0].Value : double.NaN;
        return match.Count == 1;
    }

    /// <summary>(x, value) pairs of one series, in x order.</summary>
    public (double[] X, double[] Y) Series(string section, string series, string metric)
    {
        var rows = _rows.Where(r => r.Section == section && r.Series == series && r.Metric == metric && r.X is not null).OrderBy(r => r.X).ToList();
        return (rows.Select(r => r.X!.Value).ToArray(), rows.Select(r => r.Value).ToArray());
    }

    public IEnumerable<string> SeriesNames(string section) => _rows.Where(r => r.Section == section).Select(r => r.Series).Distinct();

    public void Save(string path)
    {
        var sb = new StringBuilder(Header).Append('\n');
        foreach (var r in _rows)
            sb.Append(r.Section).Append(',').Append(r.Series).Append(',')
              .Append(r.X is { } x ? Format(x) : "").Append(',').Append(r.Metric).Append(',').Append(Format(r.Value)).Append('\n');
        Serialization.AtomicFile.WriteAllText(path, sb.ToString());
    }

    public static ResultsTable Load(string path)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || lines[0] != Header)
            throw new InvalidDataException($"{path}: expected the header '{Header}'.");
        var table = new ResultsTable();
        for (int i = 1; i < lines.Length; i++)
        {
            var f = lines[i].Split(',');
            if (f.Length != 5) throw new InvalidDataException($"{path}:{i + 1}: expected 5 fields, got {f.Length}.");
            table._rows.Add(new ResultRow(f[0], f[1], f[2].Length == 0 ? null : Parse(f[2]), f[3], Parse(f[4])));
        }
        return table;
    }

    private static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static double Parse(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
}
