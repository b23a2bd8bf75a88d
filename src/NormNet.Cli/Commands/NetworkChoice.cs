using System.Globalization;
using NormNet.Data;
using NormNet.Layers;
using NormNet.Models;

namespace NormNet.Cli.Commands;

/// <summary>The network of a run: a built-in family with its sizes, or a model file (whose text is kept, so that the
/// run does not depend on the file staying where it was).</summary>
/// <param name="Arch">mlp-sigmoid, mlp, cnn or resnet; null with a model file.</param>
/// <param name="BatchNorm">Whether the family inserts batch normalization.</param>
/// <param name="Hidden">mlp: the hidden layer sizes.</param>
/// <param name="Activation">mlp: relu, sigmoid or tanh.</param>
/// <param name="Channels">cnn: the channels of each convolution stage.</param>
/// <param name="Width">resnet: the channels of the first stage.</param>
/// <param name="Blocks">resnet: residual blocks per stage.</param>
/// <param name="InitStd">mlp-sigmoid and mlp: the std of Gaussian initial weights; null for PyTorch's default.</param>
/// <param name="ModelFile">The model file's path, as given.</param>
/// <param name="ModelJson">The model file's text.</param>
/// <param name="Norm">The family's normalization (batch, group, layer, instance, renorm, ghost, none); null: batch when
/// <paramref name="BatchNorm"/>, else none.</param>
/// <param name="Groups">group: GroupNorm's group count.</param>
/// <param name="VirtualBatchSize">ghost: the virtual batch size.</param>
internal sealed record NetworkChoice(string? Arch, bool BatchNorm, int[]? Hidden, string? Activation, int[]? Channels,
    int? Width, int? Blocks, double? InitStd, string? ModelFile, string? ModelJson, string? Norm = null, int? Groups = null,
    int? VirtualBatchSize = null)
{
    /// <summary>The family's normalization.</summary>
    public Normalization Normalization => Norm is null ? Normalization.FromBatchNorm(BatchNorm)
        : Normalization.Parse(Norm, Groups ?? 32, VirtualBatchSize ?? 16);

    public static readonly string[] Families = [.. NetworkFamilies.Names];

    /// <summary>The input layout the network takes: images stay (C, H, W) for convolutional families and model files.</summary>
    public InputLayout LayoutFor(Dataset data) => Arch is "mlp-sigmoid" or "mlp" || !data.IsImage ? InputLayout.Flattened : InputLayout.Image;

    /// <summary>The per-sample input shape the network takes for <paramref name="data"/>.</summary>
    public int[] InputShapeFor(Dataset data) => LayoutFor(data) == InputLayout.Flattened ? [data.FeatureCount] : data.SampleShape.ToArray();

    /// <summary>The network description: the model file's, or the family's with its sizes.</summary>
    public NetworkSpec Spec()
    {
        try
        {
            if (ModelJson is not null) return NetworkSpec.Parse(ModelJson, ModelFile ?? "model file");
            return Arch switch
            {
                "mlp-sigmoid" => NetworkFamilies.Mlp([100, 100, 100], "sigmoid", Normalization, "mlp-sigmoid"),
                "mlp" => NetworkFamilies.Mlp(Hidden ?? [100, 100, 100], Activation ?? "relu", Normalization),
                "cnn" => NetworkFamilies.Cnn(Channels, 128, Normalization),
                "resnet" => NetworkFamilies.ResNet(Width ?? 16, Blocks is { } b ? [b, b, b] : null, Normalization),
                _ => throw new UsageException($"unknown architecture '{Arch}'; expected one of: {string.Join(", ", Families)}."),
            };
        }
        catch (InvalidDataException e) { throw new UsageException(e.Message); }
    }

    /// <summary>Builds the network for inputs of <paramref name="inputShape"/> and <paramref name="outputs"/> outputs; a network
    /// that cannot take that input is a usage error naming the layer, before any training.</summary>
    public Sequential Build(int[] inputShape, int outputs, Rng rng)
    {
        double? std = Arch == "mlp-sigmoid" ? InitStd ?? 0.1 : InitStd;
        var initialize = std is { } s && Arch is "mlp-sigmoid" or "mlp" ? NetworkFamilies.NormalLinearInit(s, rng) : null;
        try { return Spec().Build(inputShape, outputs, rng, initialize); }
        catch (InvalidDataException e)
        {
            throw new UsageException($"{e.Message} (the data gives inputs of {string.Join('x', inputShape)} and {outputs} outputs)");
        }
    }

    public string Describe() => ModelFile is not null
        ? $"model file {ModelFile}"
        : Norm is null ? string.Create(CultureInfo.InvariantCulture, $"{Arch} (BN {(BatchNorm ? "on" : "off")})")
        : $"{Arch} (norm {Normalization})";
}
