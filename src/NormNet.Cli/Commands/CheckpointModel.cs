using NormNet.Data;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Serialization;

namespace NormNet.Cli.Commands;

/// <summary>A model file loaded for use: the network rebuilt from the file's own description (<see cref="ModelCard"/> and
/// training settings), or, for a bare state_dict (e.g. from PyTorch), from --arch/--bn for Fashion-MNIST's 28x28 images.</summary>
internal sealed record CheckpointModel(Sequential Model, ModelCard Card, TrainSettings? Settings, InputLayout Layout, string Description)
{
    /// <param name="validate">false (--allow-invalid) loads non-finite weights and a wrong checksum, to inspect a broken model.</param>
    public static CheckpointModel Load(string path, string? arch, string? bn, bool validate = true)
    {
        if (!File.Exists(path)) throw new UsageException($"model file not found: {path}");
        SafeTensorsFile file;
        try { file = SafeTensors.Load(path, verifyChecksum: validate); }
        catch (InvalidDataException e) { throw new UsageException(e.Message); }
        // a corrupt description is a broken file (exit 1), not bad usage
        var settings = TrainSettings.FromMetadata(file.Metadata, path);
        var card = ModelCard.FromMetadata(file.Metadata, path);
        Sequential model;
        InputLayout layout;
        if (settings is not null && card is not null)
        {
            if (arch is not null || bn is not null)
                throw new UsageException($"{path} describes its own network ({settings.Network.Describe()}); drop --arch and --bn.");
            // the network as recorded (every size explicit), so the model does not depend on how its family is built today
            model = card.Network is { } network ? BuildRecorded(network, card, path) : settings.Network.Build(card.InputShape, card.Outputs, new Rng(0));
            layout = card.InputShape.Length == 3 ? InputLayout.Image : InputLayout.Flattened;
        }
        else
        {
            string name = arch ?? throw new UsageException($"{path} has no NormNet model description: pass --arch (mlp-sigmoid, cnn or resnet) and --bn for a bare state_dict of Fashion-MNIST's 28x28 images.");
            model = Architectures.Create(name, bn != "off", new Rng(0));
            layout = Architectures.LayoutOf(name);
            var fashion = DataSets.FashionMnistSubset().Train;
            card = new ModelCard
            {
                Data = "Fashion-MNIST (assumed for a bare state_dict)",
                InputShape = layout == InputLayout.Flattened ? [784] : [1, 28, 28],
                Task = TaskKind.Classification,
                ClassNames = fashion.ClassNames.ToArray(),
                ScalePixels = true,
            };
        }
        try { ModelState.Load(model, file, "", strict: false, path, validate); }
        catch (InvalidDataException e) { throw new UsageException($"{e.Message} ({settings?.Network.Describe() ?? arch})"); }
        return new CheckpointModel(model, card, settings, layout, settings?.Network.Describe() ?? $"{arch} (BN {(bn != "off" ? "on" : "off")})");
        }

    private static Sequential BuildRecorded(string network, ModelCard card, string path)
    {
        try { return NetworkSpec.Parse(network, $"{path} (its network)").Build(card.InputShape, card.Outputs, new Rng(0)); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: the recorded network cannot be built: {e.Message}"); }
    }
}
