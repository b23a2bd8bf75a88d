using System.Runtime.InteropServices;

namespace NormNet.Serialization;

/// <summary>
/// The checks every loaded state passes before it reaches a model, an optimizer or a trainer: values finite,
/// variances and counters non-negative. A file that fails is refused with an <see cref="InvalidDataException"/>
/// naming the file, the tensor and the first bad element, so a broken model is never evaluated, exported or
/// trained on silently. Loading methods take <c>validate: false</c> for a user who wants to inspect a broken model.
/// </summary>
public static class StateValidation
{
    /// <summary>Throws unless every value of <paramref name="entry"/> is acceptable for a tensor of that name: F32 and
    /// F64 values finite; a running variance (<c>running_var</c>) or an optimizer's second moment (<c>exp_avg_sq</c>,
    /// <c>max_exp_avg_sq</c>) also non-negative; an I64 counter (<c>num_batches_tracked</c>) non-negative.</summary>
    /// <param name="entry">The tensor as read from the file.</param>
    /// <param name="source">The file, for the message.</param>
    public static void CheckEntry(SafeTensorsEntry entry, string source)
    {
        ArgumentNullException.ThrowIfNull(entry);
        bool nonNegative = IsNonNegativeByDefinition(entry.Name);
        switch (entry.DType)
        {
            case "F32":
                CheckFloats(MemoryMarshal.Cast<byte, float>(entry.Data), entry.Name, nonNegative, source);
                break;
            case "F64":
                CheckDoubles(MemoryMarshal.Cast<byte, double>(entry.Data), entry.Name, nonNegative, source);
                break;
            case "I64" when entry.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal):
                var values = entry.ToInt64();
                for (int i = 0; i < values.Length; i++)
                    if (values[i] < 0) throw Bad(source, entry.Name, i, values[i].ToString(System.Globalization.CultureInfo.InvariantCulture), "a non-negative count");
                break;
        }
    }

    /// <summary>Throws unless a counter read from the file (a step, an epoch) is in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static long CheckRange(long value, long min, long max, string what, string source) =>
        value >= min && value <= max ? value
            : throw new InvalidDataException($"{source}: {what} is {value}, expected a value in [{min}, {max}].");

    private static bool IsNonNegativeByDefinition(string name) =>
        name.EndsWith("running_var", StringComparison.Ordinal) || name.EndsWith("exp_avg_sq", StringComparison.Ordinal);

    private static void CheckFloats(ReadOnlySpan<float> values, string name, bool nonNegative, string source)
    {
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (!float.IsFinite(v)) throw Bad(source, name, i, Format(v), "finite values");
            if (nonNegative && v < 0) throw Bad(source, name, i, Format(v), "a non-negative variance");
        }
    }

    private static void CheckDoubles(ReadOnlySpan<double> values, string name, bool nonNegative, string source)
    {
        for (int i = 0; i < values.Length; i++)
        {
            double v = values[i];
            if (!double.IsFinite(v)) throw Bad(source, name, i, Format(v), "finite values");
            if (nonNegative && v < 0) throw Bad(source, name, i, Format(v), "a non-negative variance");
        }
    }

    private static string Format(double v) => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture);

    private static InvalidDataException Bad(string source, string name, int index, string value, string expected) =>
        new($"{source}: tensor '{name}' holds {value} at element {index}, expected {expected} " +
            "(a broken model; load with validate: false, or --allow-invalid, to inspect it anyway).");
}
