using nietras.SeparatedValues;

namespace NormNet.Data;

/// <summary>Reads the feature columns of a CSV file by name, for prediction: new rows for a model trained on a table.</summary>
/// <remarks>The columns may be in any order and other columns (a label, an id) are ignored; every named column must be
/// present. Cells follow <see cref="CsvDataset"/>'s rules, and a bad cell is an <see cref="InvalidDataException"/> naming
/// the file, the line and the column.</remarks>
public static class CsvFeatures
{
    /// <summary>The rows' values of <paramref name="featureNames"/>, row after row (rows x features).</summary>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">A column is missing, a row is ragged, a cell is not a number, or there are no rows.</exception>
    public static float[] Read(string path, IReadOnlyList<string> featureNames, CsvOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(featureNames);
        if (featureNames.Count == 0) throw new ArgumentException("Expected the names of the feature columns to read.", nameof(featureNames));
        options ??= new CsvOptions();
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: CSV file not found.", path);
        CsvHeaderGuard.Check(path, options.MaxHeaderBytes);
        using var reader = Sep.Reader(o => o with
        {
            Sep = options.Separator is { } c ? new Sep(c) : null,
            HasHeader = false,
            DisableColCountCheck = true,
            Unescape = true,
            Trim = SepTrim.All,
        }).FromFile(path);
        if (!reader.MoveNext()) throw new InvalidDataException($"{path}: the file is empty: expected a header row of column names.");
        var header = reader.Current[0..reader.Current.ColCount].ToStringsArray();
        var missing = featureNames.Where(n => !header.Contains(n, StringComparer.Ordinal)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{path}:1: missing feature column(s) {CsvCells.List(missing)} that the model was trained on.");
        int[] at = featureNames.Select(n => Array.IndexOf(header, n)).ToArray();
        var values = new List<float>();
        foreach (var row in reader)
        {
            int line = row.LineNumberFrom;
            if (row.ColCount == 1 && row[0].Span.IsEmpty) continue;
            if (row.ColCount != header.Length)
                throw new InvalidDataException($"{path}:{line}: expected {header.Length} cells (the header's columns), found {row.ColCount}.");
            foreach (int c in at)
            {
                if (CsvCells.TryNumber(row[c].Span, out float v) is { } problem)
                    throw new InvalidDataException($"{path}:{line}: column '{header[c]}' ({c + 1}): {problem}.");
                values.Add(v);
            }
        }
        if (values.Count == 0) throw new InvalidDataException($"{path}: found a header and no data rows.");
        return values.ToArray();
    }
}
