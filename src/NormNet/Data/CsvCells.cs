using System.Globalization;

namespace NormNet.Data;

/// <summary>Reading one CSV cell: numbers in the invariant culture, and cell text quoted for messages.</summary>
internal static class CsvCells
{
    // A sign, digits with an optional decimal point, an optional exponent: "-1.5e3", ".5", "7". No thousands separators,
    // no currency, no surrounding white space (spaces are trimmed by the parser before this).
    private const NumberStyles Number = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;

    private const int ShownLength = 40;

    /// <summary>Parses a finite float32, or says what is wrong with the cell (null when it is a number).</summary>
    public static string? TryNumber(ReadOnlySpan<char> cell, out float value)
    {
        if (cell.IsEmpty)
        {
            value = 0;
            return "expected a number, found an empty cell";
        }
        if (!float.TryParse(cell, Number, CultureInfo.InvariantCulture, out value))
            return $"expected a number, found {Show(cell)}";
        if (!float.IsFinite(value))
            return $"expected a finite float32 number, found {Show(cell)}";
        return null;
    }

    /// <summary>Whether a cell is a finite number (class labels that are all numbers sort by value).</summary>
    public static bool IsNumber(string cell, out double value) =>
        double.TryParse(cell, Number, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    /// <summary>The cell in quotes, at most 40 characters, line ends and tabs written as escapes.</summary>
    public static string Show(ReadOnlySpan<char> cell)
    {
        var text = cell.Length > ShownLength ? string.Concat(cell[..ShownLength], "...") : cell.ToString();
        return "'" + text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)
            .Replace("\t", "\\t", StringComparison.Ordinal) + "'";
    }

    /// <summary>A list of names for messages, e.g. <c>'a', 'b'</c>, the first <paramref name="max"/> of them.</summary>
    public static string List(IEnumerable<string> names, int max = 10)
    {
        var all = names.ToList();
        var shown = string.Join(", ", all.Take(max).Select(n => Show(n)));
        return all.Count > max ? $"{shown}, ... ({all.Count} in all)" : shown;
    }
}
