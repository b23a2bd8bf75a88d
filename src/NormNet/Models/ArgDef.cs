using System.Globalization;
using System.Text.Json;

namespace NormNet.Models;

/// <summary>The values a layer argument takes in a network description.</summary>
internal enum ArgKind
{
    /// <summary>An integer &gt;= 1 (sizes, kernel sizes, strides).</summary>
    PositiveInt,

    /// <summary>An integer &gt;= 0 (padding).</summary>
    NonNegativeInt,

    /// <summary>true or false.</summary>
    Bool,

    /// <summary>A finite number &gt;= 0 (eps).</summary>
    NonNegativeNumber,

    /// <summary>A number in [0, 1] (momentum).</summary>
    Fraction,

    /// <summary>A number in [0, 1) (dropout's p).</summary>
    Probability,
}

/// <summary>One argument of a layer type: its PyTorch name, what it takes, and its default.</summary>
/// <remarks>Values are held as <see cref="int"/>, <see cref="double"/>, <see cref="bool"/>, null, or the string
/// <see cref="Outputs"/>. A size that shape inference fills in (in_features, in_channels, num_features) has the
/// default null, meaning "infer it".</remarks>
internal sealed class ArgDef
{
    /// <summary>The placeholder for the data's number of outputs (classes or targets), filled in at build time.</summary>
    public const string Outputs = "$outputs";

    private ArgDef(string name, ArgKind kind, object? @default, bool isRequired, bool isInferred, bool allowsNull, bool allowsOutputs)
    {
        Name = name;
        Kind = kind;
        Default = @default;
        IsRequired = isRequired;
        IsInferred = isInferred;
        AllowsNull = allowsNull;
        AllowsOutputs = allowsOutputs;
    }

    /// <summary>The argument's name, as PyTorch's constructor spells it (out_features, kernel_size).</summary>
    public string Name { get; }

    /// <summary>What values it takes.</summary>
    public ArgKind Kind { get; }

    /// <summary>The value when the argument is left out (null for a required or inferred argument).</summary>
    public object? Default { get; }

    /// <summary>Whether the argument must be given.</summary>
    public bool IsRequired { get; }

    /// <summary>Whether shape inference fills it in from the layer's input when it is left out.</summary>
    public bool IsInferred { get; }

    /// <summary>Whether an explicit JSON null is a value (momentum: a cumulative average; stride: the kernel size).</summary>
    public bool AllowsNull { get; }

    /// <summary>Whether the string <see cref="Outputs"/> is accepted.</summary>
    public bool AllowsOutputs { get; }

    /// <summary>An argument that must be given; a size may allow <see cref="Outputs"/>.</summary>
    public static ArgDef Required(string name, ArgKind kind, bool allowsOutputs = false) =>
        new(name, kind, null, isRequired: true, isInferred: false, allowsNull: false, allowsOutputs);

    /// <summary>An argument with a default.</summary>
    public static ArgDef Optional(string name, ArgKind kind, object? @default, bool allowsNull = false) =>
        new(name, kind, @default, isRequired: false, isInferred: false, allowsNull, allowsOutputs: false);

    /// <summary>An input size that shape inference fills in, and checks when it is given.</summary>
    public static ArgDef Inferred(string name) =>
        new(name, ArgKind.PositiveInt, null, isRequired: false, isInferred: true, allowsNull: false, allowsOutputs: false);

    /// <summary>What the argument takes, for error messages: <c>an integer &gt;= 1 or "$outputs"</c>.</summary>
    public string Expected
    {
        get
        {
            string text = Kind switch
            {
                ArgKind.PositiveInt => "an integer >= 1",
                ArgKind.NonNegativeInt => "an integer >= 0",
                ArgKind.Bool => "true or false",
                ArgKind.NonNegativeNumber => "a number >= 0",
                ArgKind.Fraction => "a number in [0, 1]",
                ArgKind.Probability => "a number in [0, 1)",
                _ => throw new InvalidOperationException($"Unknown argument kind {Kind}."),
            };
            if (AllowsOutputs) text += $" or \"{Outputs}\"";
            if (AllowsNull) text += " or null";
            return text;
        }
    }

    /// <summary>Reads the argument's value from JSON; false when the value is not one this argument takes.</summary>
    public bool TryRead(JsonElement element, out object? value)
    {
        value = null;
        switch (element.ValueKind)
        {
            case JsonValueKind.Null:
                return AllowsNull;
            case JsonValueKind.String:
                value = element.GetString();
                return AllowsOutputs && (string?)value == Outputs;
            case JsonValueKind.True or JsonValueKind.False:
                value = element.GetBoolean();
                return Kind == ArgKind.Bool;
            case JsonValueKind.Number:
                return TryReadNumber(element, out value);
            default:
                return false;
        }
    }

    private bool TryReadNumber(JsonElement element, out object? value)
    {
        value = null;
        if (Kind is ArgKind.PositiveInt or ArgKind.NonNegativeInt)
        {
            if (!element.TryGetInt32(out int i) || i < (Kind == ArgKind.PositiveInt ? 1 : 0)) return false;
            value = i;
            return true;
        }
        if (Kind == ArgKind.Bool || !element.TryGetDouble(out double d) || !double.IsFinite(d)) return false;
        value = d;
        return Kind switch
        {
            ArgKind.NonNegativeNumber => d >= 0,
            ArgKind.Fraction => d is >= 0 and <= 1,
            ArgKind.Probability => d is >= 0 and < 1,
            _ => false,
        };
    }

    /// <summary>A value as JSON text: <c>3</c>, <c>1E-05</c>, <c>true</c>, <c>null</c>, <c>"$outputs"</c>.</summary>
    public static string Format(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        int i => i.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        string s => JsonSerializer.Serialize(s),
        _ => throw new InvalidOperationException($"Unexpected argument value of type {value.GetType().Name}."),
    };
}
