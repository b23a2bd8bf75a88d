using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using NormNet.Data;
using NormNet.Layers;
using NormNet.Optim;

namespace NormNet.Cli.Commands;

/// <summary>Everything that defines a training run, stored in its checkpoints so that <c>--resume</c> and
/// <c>normnet eval</c> rebuild exactly the same model, optimizer and data.</summary>
/// <param name="SyncBn">Whether <c>--sync-bn</c> was asked for: under mpiexec, batch norm statistics over the global batch.
/// A resumed run keeps it (it changes what the batch norm layers compute); checkpoints written before it was stored read as false.</param>
internal sealed record TrainSettings(
    NetworkChoice Network, DataChoice Data, int BatchSize, double LearningRate, string Optimizer, double Momentum,
    double WeightDecay, ulong Seed, bool SyncBn = false)
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
        TrainSettings? settings;
        try { settings = JsonSerializer.Deserialize<TrainSettings>(json, Json); }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the training settings '{MetadataKey}' are not valid (truncated, edited, or written by an older NormNet?) near byte {e.BytePositionInLine}.");
        }
        if (settings is not { Network: not null, Data: not null } || settings.BatchSize < 1)
            throw new InvalidDataException($"{path}: the training settings '{MetadataKey}' are incomplete (network, data and a batch size of at least 1 expected).");
        return settings;
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Network.Describe()}, batch {BatchSize}{(SyncBn ? " (SyncBN)" : "")}, {Optimizer} lr {LearningRate}, seed {Seed}");
}
