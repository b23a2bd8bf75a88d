using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using NormNet.Data;
using NormNet.Layers;
using NormNet.Optim;

namespace NormNet.Cli.Commands;

/// <summary>Everything that defines a training run, stored in its checkpoints so that <c>--resume</c> and
/// <c>normnet eval</c> rebuild exactly the same model, optimizer and data.</summary>
internal sealed record TrainSettings(
    NetworkChoice Network, DataChoice Data, int BatchSize, double LearningRate, string Optimizer, double Momentum,
    double WeightDecay, ulong Seed)
{
    public const string MetadataKey = "normnet_train_settings";
    public static readonly string[] Optimizers = ["sgd", "momentum", "nesterov", "adam", "adamw"];

    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static double DefaultLearningRate(string arch, string optimizer) => optimizer is "adam" or "adamw" ? 1e-3 : arch == "mlp-sigmoid" ? 0.5 : 0.05;

    public Optimizer BuildOptimizer(Module model) => Optimizer switch
    {
        "sgd" => new Sgd(model.NamedParameters(), LearningRate, 0, weightDecay: WeightDecay),
        "momentum" => new Sgd(model.NamedParameters(), LearningRate, Momentum, weightDecay: WeightDecay),
        "nesterov" => new Sgd(model.NamedParameters(), LearningRate, Momentum, weightDecay: WeightDecay, nesterov: true),
        "adam" => new Adam(model.NamedParameters(), LearningRate, weightDecay: WeightDecay),
        "adamw" => new AdamW(model.NamedParameters(), LearningRate, weightDecay: WeightDecay),
        _ => throw new UsageException($"unknown optimizer '{Optimizer}'; expected one of: {string.Join(", ", Optimizers)}."),
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TrainSettings? FromMetadata(IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!metadata.TryGetValue(MetadataKey, out var json)) return null;
        try
        {
            return JsonSerializer.Deserialize<TrainSettings>(json, Json) is { Network: not null, Data: not null } s ? s
                : throw new UsageException($"{path}: incomplete NormNet training settings.");
        }
        catch (JsonException e)
        {
            throw new UsageException($"{path}: the NormNet training settings are not readable ({e.Message}); was it written by an older NormNet?");
        }
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Network.Describe()}, batch {BatchSize}, {Optimizer} lr {LearningRate}, seed {Seed}");
}
