namespace NormNet.Data;

/// <summary>How <see cref="CsvDataset"/> reads a table: which columns are the label (or regression targets), the task,
/// the separator, and the limits that refuse a file before it exhausts memory.</summary>
/// <remarks>The defaults read a classification table whose last column is the class label, with the separator detected
/// from the header row (one of <c>, ; \t |</c>).</remarks>
public sealed record CsvOptions
{
    /// <summary>The label column names: exactly one for classification, one or more regression targets; null means the
    /// last column.</summary>
    public IReadOnlyList<string>? LabelColumns { get; init; }

    /// <summary>Classification (the label column holds class names or numbers) or regression (real targets).</summary>
    public TaskKind Task { get; init; } = TaskKind.Classification;

    /// <summary>The cell separator; null detects it from the header row.</summary>
    public char? Separator { get; init; }

    /// <summary>The most columns a header may have (default 100,000); a wider file is refused.</summary>
    public int MaxColumns { get; init; } = 100_000;

    /// <summary>The most bytes the header row may take (default 8 MiB); a longer header is refused before it is parsed.</summary>
    public int MaxHeaderBytes { get; init; } = 8 << 20;

    /// <summary>Splits a comma-separated list of column names, e.g. <c>"a,b"</c> from <c>--label a,b</c>; spaces around
    /// the names are trimmed.</summary>
    /// <exception cref="ArgumentException">The list is empty or has an empty name.</exception>
    public static IReadOnlyList<string> ParseColumnList(string list)
    {
        ArgumentNullException.ThrowIfNull(list);
        var names = list.Split(',', StringSplitOptions.TrimEntries);
        if (names.Any(n => n.Length == 0))
            throw new ArgumentException($"Expected a comma-separated list of column names, found '{list}' (an empty name).", nameof(list));
        return names;
    }
}
