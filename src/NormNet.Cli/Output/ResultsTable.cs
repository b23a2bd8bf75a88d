using System.Globalization;
using System.Text;

namespace NormNet.Cli.Output;

/// <summary>One measured number: which part of the experiment (section), which variant (series), at which
/// step or setting (x; empty when not applicable), what (metric), the value, and the seed of the run that measured it
/// (empty for settings and for numbers that belong to no single run).</summary>
internal sealed record ResultRow(string Section, string Series, double? X, string Metric, double Value, ulong? Seed = null);

/// <summary>
/// An experiment's results in long format, written as results.csv (columns section,series,x,metric,value,seed) with
/// round-trip number formatting, so the same seed gives the same file, and read back so that every number in a
/// report comes from the file.
/// </summary>
internal sealed class ResultsTable
{
    private const string Header = "section,series,x,metric,value,seed";
    private readonly List<ResultRow> _rows = [];

    public IReadOnlyList<ResultRow> Rows => _rows;

    public void Add(string section, string series, double? x, string metric, double value, ulong? seed = null)
    {
        foreach (var s in new[] { section, series, metric })
            if (s.Contains(',') || s.Contains('\n')) throw new ArgumentException($"Result labels must not contain commas: '{s}'.");
        _rows.Add(new ResultRow(section, series, x, metric, value, seed));
    }

    /// <summary>Records a run setting (section "settings", series "run"), so a report can state it from results.csv.</summary>
    public void Setting(string name, double value) => Add("settings", "run", null, name, value);

    /// <summary>Appends every row of <paramref name="other"/>, in its order.</summary>
    public void Append(ResultsTable other) => _rows.AddRange(other._rows);

    private IEnumerable<ResultRow> Match(string section, string series, string metric, ulong? seed) =>
        _rows.Where(r => r.Section == section && r.Series == series && r.Metric == metric && r.Seed == seed);

    /// <summary>The single value with these labels (x ignored when null) measured by <paramref name="seed"/>
    /// (null: the rows that belong to no seed, such as settings).</summary>
    public double Get(string section, string series, string metric, double? x = null, ulong? seed = null)
    {
        var match = Match(section, series, metric, seed).Where(r => x is null || r.X == x).ToList();
        return match.Count == 1 ? match[0].Value
            : throw new KeyNotFoundException($"results: expected one row {section}/{series}/{metric}{(x is null ? "" : $"@{x}")}{(seed is null ? "" : $" seed {seed}")}, found {match.Count}.");
    }

    public bool TryGet(string section, string series, string metric, out double value, double? x = null, ulong? seed = null)
    {
        var match = Match(section, series, metric, seed).Where(r => x is null || r.X == x).ToList();
        value = match.Count == 1 ? match[0].Value : double.NaN;
        return match.Count == 1;
    }

    /// <summary>(x, value) pairs of one series of one seed, in x order.</summary>
    public (double[] X, double[] Y) Series(string section, string series, string metric, ulong? seed = null)
    {
        var rows = Match(section, series, metric, seed).Where(r => r.X is not null).OrderBy(r => r.X).ToList();
        return (rows.Select(r => r.X!.Value).ToArray(), rows.Select(r => r.Value).ToArray());
    }

    /// <summary>The seeds that measured anything, in increasing order.</summary>
    public ulong[] Seeds() => _rows.Where(r => r.Seed is not null).Select(r => r.Seed!.Value).Distinct().Order().ToArray();

    /// <summary>One value per seed (NaN where a seed has none), in the order of <see cref="Seeds"/>.</summary>
    public double[] PerSeed(string section, string series, string metric, double? x = null) =>
        Seeds().Select(s => TryGet(section, series, metric, out double v, x, s) ? v : double.NaN).ToArray();

    public IEnumerable<string> SeriesNames(string section) => _rows.Where(r => r.Section == section).Select(r => r.Series).Distinct();

    public void Save(string path)
    {
        var sb = new StringBuilder(Header).Append('\n');
        foreach (var r in _rows)
            sb.Append(r.Section).Append(',').Append(r.Series).Append(',')
              .Append(r.X is { } x ? Format(x) : "").Append(',').Append(r.Metric).Append(',').Append(Format(r.Value)).Append(',')
              .Append(r.Seed is { } seed ? seed.ToString(CultureInfo.InvariantCulture) : "").Append('\n');
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
            if (f.Length != 6) throw new InvalidDataException($"{path}:{i + 1}: expected 6 fields, got {f.Length}.");
            table._rows.Add(new ResultRow(f[0], f[1], f[2].Length == 0 ? null : Parse(f[2]), f[3], Parse(f[4]),
                f[5].Length == 0 ? null : ulong.Parse(f[5], CultureInfo.InvariantCulture)));
        }
        return table;
    }

    private static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static double Parse(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
}
