using System.Globalization;
using System.Text.Json;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Optim;

namespace NormNet.Cli.Commands;

/// <summary>Everything that defines a training run, stored in its checkpoints so that <c>--resume</c> and
/// <c>normnet eval</c> rebuild exactly the same model, optimizer and data order.</summary>
internal sealed record TrainSettings(
    string Arch, bool BatchNorm, int BatchSize, double LearningRate, string Optimizer, double Momentum,
    double WeightDecay, ulong Seed, double? InitStd)
{
    public const string MetadataKey = "normnet_train_settings";
    public static readonly string[] Optimizers = ["sgd", "momentum", "nesterov", "adam", "adamw"];

    public static double DefaultLearningRate(string arch, string optimizer) => optimizer is "adam" or "adamw" ? 1e-3 : arch == "mlp-sigmoid" ? 0.5 : 0.05;

    public Sequential BuildModel() => Architectures.Create(Arch, BatchNorm, new Rng(Seed), InitStd);

    public Optimizer BuildOptimizer(Module model) => Optimizer switch
    {
        "sgd" => new Sgd(model.NamedParameters(), LearningRate, 0, weightDecay: WeightDecay),
        "momentum" => new Sgd(model.NamedParameters(), LearningRate, Momentum, weightDecay: WeightDecay),
        "nesterov" => new Sgd(model.NamedParameters(), LearningRate, Momentum, weightDecay: WeightDecay, nesterov: true),
        "adam" => new Adam(model.NamedParameters(), LearningRate, weightDecay: WeightDecay),
        "adamw" => new AdamW(model.NamedParameters(), LearningRate, weightDecay: WeightDecay),
        _ => throw new UsageException($"unknown optimizer '{Optimizer}'; expected one of: {string.Join(", ", Optimizers)}."),
    };

    public string ToJson() => JsonSerializer.Serialize(this);

    public static TrainSettings FromMetadata(IReadOnlyDictionary<string, string> metadata, string path)
    {
        if (!metadata.TryGetValue(MetadataKey, out var json))
            throw new UsageException($"{path} has no NormNet training settings: pass --arch and --bn to evaluate a bare state_dict.");
        TrainSettings? settings;
        try { settings = JsonSerializer.Deserialize<TrainSettings>(json); }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the training settings '{MetadataKey}' are not valid JSON (truncated or edited?) near byte {e.BytePositionInLine}.");
        }
        if (settings is null || !Architectures.Names.Contains(settings.Arch) || settings.BatchSize < 1)
            throw new InvalidDataException($"{path}: the training settings '{MetadataKey}' name architecture '{settings?.Arch}' and batch size {settings?.BatchSize}; " +
                $"expected one of {string.Join(", ", Architectures.Names)} and at least 1.");
        return settings;
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Arch} (BN {(BatchNorm ? "on" : "off")}), batch {BatchSize}, {Optimizer} lr {LearningRate}, seed {Seed}");
}
