using nietras.SeparatedValues;

namespace NormNet.Data;

/// <summary>Reads a CSV table into a <see cref="TensorSet"/> of F features per sample: a header row of column names,
/// then one sample per row; numeric feature columns, and a label column (classification) or one or more target
/// columns (regression). The file is parsed by <c>Sep</c> and read once, streaming.</summary>
/// <remarks>
/// <para>Rules (docs/data.md): numbers are in the invariant culture (<c>-1.5e3</c>, <c>.5</c>; no thousands
/// separators); cells may be quoted; spaces around cells are trimmed; blank lines are skipped. String labels become
/// classes named by the label, sorted ordinally; numeric labels sort by value (<c>2</c> before <c>10</c>).</para>
/// <para>Every malformed input is an <see cref="InvalidDataException"/> whose one-line message names the file and the
/// line (numbered from 1, the header being line 1), and the column by name and 1-based number where one cell is at
/// fault, e.g. <c>data.csv:17: column 'age' (3): expected a number, found 'abc'.</c></para>
/// </remarks>
public static class CsvDataset
{
    /// <summary>Reads a CSV file (a training table: its classes are discovered).</summary>
    /// <param name="path">The file.</param>
    /// <param name="options">The label column(s), task, separator and limits; null for the defaults.</param>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file breaks a rule above; the message names file, line and column.</exception>
    /// <exception cref="ArgumentException">The options contradict themselves (e.g. two label columns for classification).</exception>
    public static TensorSet Read(string path, CsvOptions? options = null)
    {
        options ??= new CsvOptions();
        return ReadCore(path, options, options.Task, options.LabelColumns, training: null);
    }

    /// <summary>Reads a CSV file with the same feature columns, task and classes as <paramref name="training"/> (a test
    /// table): its feature columns must be the training's, in the same order, and each class label one of the training's,
    /// mapped to the same index.</summary>
    /// <param name="path">The file.</param>
    /// <param name="training">A split read by <see cref="Read"/> (it has <see cref="TensorSet.FeatureNames"/>).</param>
    /// <param name="options">The label column and separator; the task is the training's, and regression targets default
    /// to the training's target columns.</param>
    /// <exception cref="InvalidDataException">As <see cref="Read"/>; or a column differs from the training's, or a class is
    /// not a training class; the message names it.</exception>
    public static TensorSet ReadLike(string path, TensorSet training, CsvOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(training);
        if (training.FeatureNames.Count == 0 || training.SampleShape.Length != 1)
            throw new ArgumentException($"{training.Name}: expected a table with named feature columns (read by CsvDataset.Read).", nameof(training));
        options ??= new CsvOptions();
        if (options.Task != training.Task)
            throw new ArgumentException($"The options ask for {options.Task}, but {training.Name} is a {training.Task} set.", nameof(options));
        var labels = options.LabelColumns;
        if (training.Task == TaskKind.Regression)
        {
            labels ??= training.TargetNames;
            if (!labels.SequenceEqual(training.TargetNames, StringComparer.Ordinal))
                throw new ArgumentException(
                    $"Expected the target columns of {training.Name} ({CsvCells.List(training.TargetNames)}), found {CsvCells.List(labels)}.", nameof(options));
        }
        return ReadCore(path, options, training.Task, labels, training);
    }

    private static TensorSet ReadCore(string path, CsvOptions options, TaskKind task, IReadOnlyList<string>? labelNames, TensorSet? training)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxColumns, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxHeaderBytes, 1);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: CSV file not found.", path);
        CsvHeaderGuard.Check(path, options.MaxHeaderBytes);
        using var reader = Open(path, options.Separator);
        if (!reader.MoveNext())
            throw new InvalidDataException($"{path}: the file is empty: expected a header row of column names.");
        var header = reader.Current;
        var columns = header[0..header.ColCount].ToStringsArray();
        var layout = CsvLayout.FromHeader(path, columns, reader.Spec.Sep.Separator, task, labelNames, options.MaxColumns);
        if (training is not null) layout.CheckFeatures(training.FeatureNames, training.Name);
        var rows = new CsvRows(layout, task, training is not null && task == TaskKind.Classification ? training.ClassNames : null);
        rows.ReadAll(reader);
        return rows.ToTensorSet();
    }

    private static SepReader Open(string path, char? separator)
    {
        // The header is read as a plain row (HasHeader false) so that its checks, and the ragged-row check, give our messages.
        var sep = separator is { } c ? new Sep(c) : (Sep?)null;
        return Sep.Reader(o => o with
        {
            Sep = sep,
            HasHeader = false,
            DisableColCountCheck = true,
            Unescape = true,
            Trim = SepTrim.All,
        }).FromFile(path);
    }
}
