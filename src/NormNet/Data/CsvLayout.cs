namespace NormNet.Data;

/// <summary>A CSV file's header read and checked: the column names, which are labels and which features, and the
/// prefix of every message about a cell (<c>data.csv:17: column 'age' (3)</c>, the column numbered from 1).</summary>
internal sealed class CsvLayout
{
    private CsvLayout(string path, string[] columns, int[] labelColumns, char separator)
    {
        Path = path;
        Columns = columns;
        LabelColumns = labelColumns;
        IsLabel = new bool[columns.Length];
        foreach (int c in labelColumns) IsLabel[c] = true;
        FeatureColumns = Enumerable.Range(0, columns.Length).Where(c => !IsLabel[c]).ToArray();
        Separator = separator;
    }

    /// <summary>The file, as given, for messages.</summary>
    public string Path { get; }

    /// <summary>The header's column names in file order.</summary>
    public string[] Columns { get; }

    /// <summary>The indices of the label (or target) columns, in the order they were asked for.</summary>
    public int[] LabelColumns { get; }

    /// <summary>The indices of the feature columns, in file order.</summary>
    public int[] FeatureColumns { get; }

    /// <summary>Whether column c is a label column.</summary>
    public bool[] IsLabel { get; }

    /// <summary>The separator in use (given or detected).</summary>
    public char Separator { get; }

    /// <summary>The separator as messages write it (a tab as <c>\t</c>).</summary>
    public string SeparatorShown => Shown(Separator);

    /// <summary>The feature column names in file order.</summary>
    public string[] FeatureNames => FeatureColumns.Select(c => Columns[c]).ToArray();

    /// <summary>The label column names, in the order they were asked for.</summary>
    public string[] LabelNames => LabelColumns.Select(c => Columns[c]).ToArray();

    /// <summary>The message prefix naming a cell: file, line, column name and 1-based column number.</summary>
    public string At(int line, int column) => $"{Path}:{line}: column '{Columns[column]}' ({column + 1})";

    /// <summary>Checks the header row and finds the label columns (<paramref name="labelNames"/>, or the last column).</summary>
    /// <exception cref="InvalidDataException">Too many, too few, empty or duplicate column names, or a label column missing.</exception>
    public static CsvLayout FromHeader(string path, string[] columns, char separator, TaskKind task,
        IReadOnlyList<string>? labelNames, int maxColumns)
    {
        if (columns.Length > maxColumns)
            throw new InvalidDataException(
                $"{path}:1: the header has {columns.Length:N0} columns: expected at most {maxColumns:N0} (CsvOptions.MaxColumns).");
        if (columns.Length < 2)
            throw new InvalidDataException(
                $"{path}:1: expected at least 2 columns (features and a label) separated by '{Shown(separator)}', found 1 ({CsvCells.Show(columns[0])}); give the separator if it is another one.");
        int empty = Array.FindIndex(columns, c => c.Length == 0);
        if (empty >= 0)
            throw new InvalidDataException($"{path}:1: column {empty + 1} of the header has no name: expected a column name.");
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int c = 0; c < columns.Length; c++)
        {
            if (!first.TryAdd(columns[c], c))
                throw new InvalidDataException(
                    $"{path}:1: column {c + 1} is named {CsvCells.Show(columns[c])}, as column {first[columns[c]] + 1} is: expected unique column names.");
        }
        var labels = ResolveLabels(path, columns, first, task, labelNames);
        return new CsvLayout(path, columns, labels, separator);
    }

    private static int[] ResolveLabels(string path, string[] columns, Dictionary<string, int> index, TaskKind task,
        IReadOnlyList<string>? labelNames)
    {
        if (labelNames is null) return [columns.Length - 1];
        if (labelNames.Count == 0) throw new ArgumentException("Expected at least one label column name.", nameof(labelNames));
        if (task == TaskKind.Classification && labelNames.Count != 1)
            throw new ArgumentException(
                $"Classification takes one label column, found {labelNames.Count} ({CsvCells.List(labelNames)}); several are for regression.",
                nameof(labelNames));
        var dup = labelNames.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"Label column {CsvCells.Show(dup.Key)} is named twice.", nameof(labelNames));
        var result = new int[labelNames.Count];
        for (int k = 0; k < labelNames.Count; k++)
        {
            if (!index.TryGetValue(labelNames[k], out result[k]))
                throw new InvalidDataException(
                    $"{path}:1: expected a label column named {CsvCells.Show(labelNames[k])}, found the columns {CsvCells.List(columns)}.");
        }
        if (result.Length == columns.Length)
            throw new InvalidDataException($"{path}:1: every column is a label column: expected at least 1 feature column.");
        return result;
    }

    /// <summary>Checks that this file's feature columns are <paramref name="expected"/> (a training file's), in order.</summary>
    /// <exception cref="InvalidDataException">A column is missing, extra, or in another place; the message names it.</exception>
    public void CheckFeatures(IReadOnlyList<string> expected, string expectedName)
    {
        var found = FeatureNames;
        var missing = expected.Except(found, StringComparer.Ordinal).ToList();
        var extra = found.Except(expected, StringComparer.Ordinal).ToList();
        string? problem = null;
        if (missing.Count > 0) problem = $"missing the feature column(s) {CsvCells.List(missing)} of {expectedName}";
        else if (extra.Count > 0) problem = $"column(s) {CsvCells.List(extra)} are not feature columns of {expectedName}";
        else
        {
            int k = Enumerable.Range(0, found.Length).FirstOrDefault(i => !string.Equals(found[i], expected[i], StringComparison.Ordinal), -1);
            if (k >= 0)
                problem = $"feature {k + 1} is {CsvCells.Show(found[k])}: expected {CsvCells.Show(expected[k])}, as in {expectedName} (the columns must be in the same order)";
        }
        if (problem is not null) throw new InvalidDataException($"{Path}:1: {problem}.");
    }

    private static string Shown(char separator) => separator == '\t' ? "\\t" : separator.ToString();
}
