using nietras.SeparatedValues;

namespace NormNet.Data;

/// <summary>The data rows of a CSV file, read once and streamed into growing buffers of floats (features, and
/// regression targets) or class labels, every cell checked.</summary>
internal sealed class CsvRows
{
    private readonly CsvLayout _layout;
    private readonly TaskKind _task;
    private readonly List<float> _features = [];
    private readonly List<float> _targets = [];
    private readonly CsvClassLabels? _classes;
    private int _count;

    /// <summary>Prepares to read the rows of a file with <paramref name="layout"/>.</summary>
    /// <param name="layout">The checked header.</param>
    /// <param name="task">Classification or regression.</param>
    /// <param name="classes">For classification, fixed class names to map onto (a test file), or null to discover them.</param>
    public CsvRows(CsvLayout layout, TaskKind task, IReadOnlyList<string>? classes)
    {
        _layout = layout;
        _task = task;
        if (task == TaskKind.Classification) _classes = new CsvClassLabels(classes);
    }

    /// <summary>Reads every row after the header; blank lines are skipped.</summary>
    /// <exception cref="InvalidDataException">A row has the wrong number of cells, or a cell is not what its column needs.</exception>
    public void ReadAll(SepReader reader)
    {
        int columns = _layout.Columns.Length;
        int perRow = _layout.FeatureColumns.Length;
        foreach (var row in reader)
        {
            int line = row.LineNumberFrom;
            if (row.ColCount == 1 && row[0].Span.IsEmpty) continue;
            if (row.ColCount != columns)
                throw new InvalidDataException(
                    $"{_layout.Path}:{line}: expected {columns} cells (the header's columns) separated by '{_layout.SeparatorShown}', found {row.ColCount}.");
            if (_features.Count > Array.MaxLength - perRow)
                throw new InvalidDataException(
                    $"{_layout.Path}:{line}: the table holds more than {Array.MaxLength:N0} feature values, the most an array holds.");
            foreach (int c in _layout.FeatureColumns) AddNumber(_features, row[c].Span, line, c);
            foreach (int c in _layout.LabelColumns)
            {
                if (_classes is not null) _classes.Add(row[c].Span, _layout, line, c);
                else AddNumber(_targets, row[c].Span, line, c);
            }
            _count++;
        }
    }

    /// <summary>The rows as a data set named by the file, with the feature columns' names.</summary>
    /// <exception cref="InvalidDataException">There are no rows, or (discovered classes) fewer than 2 classes.</exception>
    public TensorSet ToTensorSet()
    {
        var path = _layout.Path;
        if (_count == 0)
            throw new InvalidDataException($"{path}: found a header and no data rows: expected at least 1 row of values after the header.");
        var features = _features.ToArray();
        int[] shape = [_layout.FeatureColumns.Length];
        if (_task == TaskKind.Regression)
            return TensorSet.ForRegression(features, shape, _targets.ToArray(), _layout.LabelNames, path, _layout.FeatureNames);
        var (labels, classNames) = _classes!.Finish(path, _layout.LabelNames[0]);
        return TensorSet.ForClassification(features, shape, labels, classNames, path, _layout.FeatureNames);
    }

    private void AddNumber(List<float> buffer, ReadOnlySpan<char> cell, int line, int column)
    {
        var problem = CsvCells.TryNumber(cell, out float value);
        if (problem is not null) throw new InvalidDataException($"{_layout.At(line, column)}: {problem}.");
        buffer.Add(value);
    }
}
