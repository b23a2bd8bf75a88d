namespace NormNet.Data;

/// <summary>Turns a CSV's label cells into class indices: either discovering the classes (a training file) and
/// numbering them in sorted order at the end, or mapping onto a fixed list (a test file read like its training file).</summary>
/// <remarks>Discovered classes are sorted by value when every label is a number (<c>2 &lt; 10</c>), otherwise ordinally
/// (<c>"Cat" &lt; "cat" &lt; "dog"</c>), so the numbering does not depend on the row order.</remarks>
internal sealed class CsvClassLabels
{
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly List<string> _names = [];
    private readonly List<int> _labels = [];
    private readonly bool _fixed;

    /// <summary>Discovers the classes, or, given <paramref name="classes"/>, maps onto them.</summary>
    public CsvClassLabels(IReadOnlyList<string>? classes)
    {
        _lookup = _index.GetAlternateLookup<ReadOnlySpan<char>>();
        if (classes is null) return;
        _fixed = true;
        foreach (var name in classes)
        {
            _index.Add(name, _names.Count);
            _names.Add(name);
        }
    }

    /// <summary>Adds one sample's label cell.</summary>
    /// <param name="cell">The cell, unquoted and trimmed.</param>
    /// <param name="layout">The file's columns, naming the cell in messages.</param>
    /// <param name="line">The cell's line.</param>
    /// <param name="column">The cell's column index.</param>
    /// <exception cref="InvalidDataException">The cell is empty, or (fixed classes) not one of them.</exception>
    public void Add(ReadOnlySpan<char> cell, CsvLayout layout, int line, int column)
    {
        if (cell.IsEmpty) throw new InvalidDataException($"{layout.At(line, column)}: expected a class label, found an empty cell.");
        if (!_lookup.TryGetValue(cell, out int label))
        {
            if (_fixed)
                throw new InvalidDataException(
                    $"{layout.At(line, column)}: class {CsvCells.Show(cell)} is not one of the {_names.Count} training classes ({CsvCells.List(_names)}).");
            label = _names.Count;
            var name = cell.ToString();
            _index.Add(name, label);
            _names.Add(name);
        }
        _labels.Add(label);
    }

    /// <summary>The labels and class names; discovered classes renumbered in sorted order.</summary>
    /// <param name="path">The file, for messages.</param>
    /// <param name="column">The label column's name, for messages.</param>
    /// <exception cref="InvalidDataException">Fewer than 2 classes were discovered, or two labels are one number written two ways.</exception>
    public (int[] Labels, string[] ClassNames) Finish(string path, string column)
    {
        var labels = _labels.ToArray();
        if (_fixed) return (labels, _names.ToArray());
        if (_names.Count < 2)
            throw new InvalidDataException(
                $"{path}: column {CsvCells.Show(column)} has {_names.Count} class ({CsvCells.List(_names)}): classification needs at least 2 classes.");
        var sorted = Sorted(path, column);
        var rank = new int[_names.Count];
        for (int r = 0; r < sorted.Length; r++) rank[_index[sorted[r]]] = r;
        for (int i = 0; i < labels.Length; i++) labels[i] = rank[labels[i]];
        return (labels, sorted);
    }

    private string[] Sorted(string path, string column)
    {
        var values = new double[_names.Count];
        bool numeric = true;
        for (int k = 0; k < _names.Count && numeric; k++) numeric = CsvCells.IsNumber(_names[k], out values[k]);
        if (!numeric) return _names.Order(StringComparer.Ordinal).ToArray();
        var order = Enumerable.Range(0, _names.Count).OrderBy(k => values[k]).ToArray();
        for (int r = 1; r < order.Length; r++)
        {
            if (values[order[r]] == values[order[r - 1]])
                throw new InvalidDataException(
                    $"{path}: column {CsvCells.Show(column)} has the labels {CsvCells.Show(_names[order[r - 1]])} and {CsvCells.Show(_names[order[r]])}, one number written two ways: expected each class written one way.");
        }
        return order.Select(k => _names[k]).ToArray();
    }
}
