using System.Text.Json;
using System.Text.Json.Serialization;
using NormNet.Data;

namespace NormNet.Serialization;

/// <summary>
/// What a saved model needs to be used: the data it was trained on, the per-sample input shape, the task, the class
/// (or target) names, the preprocessing fitted on the training split, and the network description. Stored as JSON
/// in the metadata of checkpoints and model files (<see cref="MetadataKey"/>) and in exported ONNX models.
/// </summary>
/// <remarks>Preprocessing, in order: image pixels (bytes) divided by 255 when <see cref="ScalePixels"/>, then
/// <c>(x - Mean[f]) / Std[f]</c> per feature f when <see cref="Mean"/> is given.</remarks>
public sealed record ModelCard
{
    /// <summary>The metadata key under which the card's JSON is stored.</summary>
    public const string MetadataKey = "normnet_model";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>One line saying which data the model was trained on.</summary>
    public required string Data { get; init; }

    /// <summary>Where that data came from (a path), so that evaluation without a data argument can find it again; null for
    /// data built in memory.</summary>
    public string? DataSource { get; init; }

    /// <summary>A fingerprint of the training data's contents (<see cref="DataFingerprint.Of"/>), or null.</summary>
    public string? DataFingerprint { get; init; }

    /// <summary>The shape of one sample as the network takes it, e.g. [13] for a table or [3, 32, 32] for images.</summary>
    public required int[] InputShape { get; init; }

    /// <summary>The shape of one sample of the data, e.g. [3, 32, 32] for images that an MLP takes flattened as [3072];
    /// null when it equals <see cref="InputShape"/>.</summary>
    public int[]? SampleShape { get; init; }

    /// <summary>Classification or regression.</summary>
    public required TaskKind Task { get; init; }

    /// <summary>The class names, index by index (classification).</summary>
    public IReadOnlyList<string> ClassNames { get; init; } = [];

    /// <summary>The target names (regression).</summary>
    public IReadOnlyList<string> TargetNames { get; init; } = [];

    /// <summary>The names of the input features (e.g. CSV columns), when the data has them.</summary>
    public IReadOnlyList<string> FeatureNames { get; init; } = [];

    /// <summary>Whether inputs are image bytes divided by 255 before anything else.</summary>
    public bool ScalePixels { get; init; }

    /// <summary>Per-feature means subtracted after pixel scaling, or null for none.</summary>
    public float[]? Mean { get; init; }

    /// <summary>Per-feature standard deviations divided by after the mean, or null for none.</summary>
    public float[]? Std { get; init; }

    /// <summary>The network, as a model-file description (JSON), when it was recorded.</summary>
    public string? Network { get; init; }

    /// <summary>The shape of one sample of the data the model reads (<see cref="SampleShape"/>, else <see cref="InputShape"/>).</summary>
    [JsonIgnore]
    public int[] DataShape => SampleShape ?? InputShape;

    /// <summary>The number of network outputs: the class count, or the target count.</summary>
    [JsonIgnore]
    public int Outputs => Task == TaskKind.Classification ? ClassNames.Count : TargetNames.Count;

    /// <summary>The standardizer that <see cref="Mean"/> and <see cref="Std"/> describe, or null.</summary>
    public Standardizer? Standardizer() => Mean is null || Std is null ? null : new Standardizer(Mean, Std);

    /// <summary>Describes a training split and its preprocessing.</summary>
    /// <param name="train">The training split the model learns from.</param>
    /// <param name="inputShape">The per-sample shape the network takes (the sample shape, or [F] for a flattened image).</param>
    /// <param name="description">One line naming the data.</param>
    /// <param name="standardizer">The fitted standardization, or null.</param>
    /// <param name="source">Where the data came from, or null.</param>
    /// <param name="network">The network description, or null.</param>
    public static ModelCard Describe(Dataset train, int[] inputShape, string description, Standardizer? standardizer = null,
        string? source = null, string? network = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Aggregate(1L, (a, d) => a * d) != train.FeatureCount)
            throw new ArgumentException($"An input shape of ({string.Join(", ", inputShape)}) does not hold {train.FeatureCount} features per sample.", nameof(inputShape));
        return new ModelCard
        {
            Data = description,
            DataSource = source,
            DataFingerprint = NormNet.Data.DataFingerprint.Of(train),
            InputShape = (int[])inputShape.Clone(),
            SampleShape = train.SampleShape.SequenceEqual(inputShape) ? null : train.SampleShape.ToArray(),
            Task = train.Task,
            ClassNames = train.ClassNames.ToArray(),
            TargetNames = train.TargetNames.ToArray(),
            ScalePixels = train is ImageSet,
            Mean = standardizer?.Mean.ToArray(),
            Std = standardizer?.Std.ToArray(),
            Network = network,
        };
    }

    /// <summary>The card as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a card from JSON.</summary>
    /// <exception cref="InvalidDataException">The JSON is not a model card; the message names <paramref name="source"/>.</exception>
    public static ModelCard FromJson(string json, string source)
    {
        try
        {
            var card = JsonSerializer.Deserialize<ModelCard>(json, Json) ?? throw new InvalidDataException($"{source}: empty model description.");
            card.Check(source);
            return card;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: the model description ({MetadataKey}) is not valid: {e.Message}");
        }
    }

    /// <summary>The card stored in a file's metadata, or null when it has none.</summary>
    /// <exception cref="InvalidDataException">The stored card is not valid.</exception>
    public static ModelCard? FromMetadata(IReadOnlyDictionary<string, string> metadata, string source) =>
        metadata.TryGetValue(MetadataKey, out var json) ? FromJson(json, source) : null;

    /// <summary>The card as file metadata, added to <paramref name="extra"/>.</summary>
    public Dictionary<string, string> ToMetadata(IReadOnlyDictionary<string, string>? extra = null) =>
        new(extra ?? new Dictionary<string, string>()) { [MetadataKey] = ToJson() };

    private void Check(string source)
    {
        if (InputShape is not { Length: > 0 } || InputShape.Any(d => d < 1))
            throw new InvalidDataException($"{source}: the model description has no valid input shape.");
        long features = InputShape.Aggregate(1L, (a, d) => a * d);
        if (Outputs < 1)
            throw new InvalidDataException($"{source}: the model description names no {(Task == TaskKind.Classification ? "classes" : "targets")}.");
        if ((Mean is null) != (Std is null) || (Mean is not null && (Mean.Length != features || Std!.Length != features)))
            throw new InvalidDataException($"{source}: the model description's preprocessing does not have {features} means and standard deviations.");
    }
}
