using System.CommandLine;
using System.Globalization;

namespace NormNet.Cli.Commands;

/// <summary>The options that choose the network of <c>normnet train</c>.</summary>
internal sealed class NetworkOptions
{
    public Option<string?> Arch { get; } = new("--arch")
    {
        Description = "A built-in family, sized to the data: mlp-sigmoid (the paper's net), mlp, cnn, resnet (required unless --model or --resume).",
    };

    public Option<string?> Model { get; } = new("--model") { Description = "A model file (JSON list of layers, see docs/model-files.md) instead of --arch." };

    public Option<string?> BatchNorm { get; } = new("--bn") { Description = "Batch normalization in the built-in family: on (default) or off." };

    public Option<string?> Norm { get; } = new("--norm")
    {
        Description = "The built-in family's normalization: batch (the default), group, layer, instance, renorm, ghost or none (--bn on/off is batch/none).",
    };

    public Option<int?> Groups { get; } = new("--groups") { Description = "--norm group: the number of groups (default 32; must divide every layer's channels)." };

    public Option<int?> VirtualBatchSize { get; } = new("--virtual-batch-size") { Description = "--norm ghost: the virtual batch size (default 16; must divide --batch-size)." };

    public Option<string?> Hidden { get; } = new("--hidden") { Description = "mlp: hidden layer sizes, e.g. 256,128 (default 100,100,100)." };

    public Option<string?> Activation { get; } = new("--activation") { Description = "mlp: relu (default), sigmoid or tanh." };

    public Option<string?> Channels { get; } = new("--channels") { Description = "cnn: channels of each conv-BN-ReLU-pool stage, e.g. 32,64 (the default)." };

    public Option<int?> Width { get; } = new("--width") { Description = "resnet: channels of the first stage (default 16; doubled per stage)." };

    public Option<int?> Blocks { get; } = new("--blocks") { Description = "resnet: residual blocks per stage (default 1)." };

    public Option<double?> InitStd { get; } = new("--init-std") { Description = "mlp-sigmoid and mlp: std of Gaussian initial weights (default 0.1 for mlp-sigmoid, \"small random Gaussian values\"; PyTorch's default init for mlp)." };

    public NetworkOptions()
    {
        Arch.AcceptOnlyFromAmong(NetworkChoice.Families);
        BatchNorm.AcceptOnlyFromAmong("on", "off");
        Activation.AcceptOnlyFromAmong("relu", "sigmoid", "tanh");
        Norm.AcceptOnlyFromAmong([.. Models.Normalization.Names]);
    }

    public IEnumerable<Option> All => [Arch, Model, BatchNorm, Norm, Groups, VirtualBatchSize, Hidden, Activation, Channels, Width, Blocks, InitStd];

    public bool AnyGiven(ParseResult r) => All.Any(o => r.GetResult(o) is { Implicit: false });

    /// <summary>Validates the options and reads the model file (before any data is loaded).</summary>
    public NetworkChoice Parse(ParseResult r)
    {
        string? arch = r.GetValue(Arch), model = r.GetValue(Model);
        if ((arch is null) == (model is null)) throw new UsageException("give --arch FAMILY or --model FILE (or --resume CHECKPOINT).");
        if (r.GetValue(InitStd) is { } std && !(std > 0 && double.IsFinite(std)))
            throw new UsageException($"--init-std must be positive and finite, got {std.ToString(CultureInfo.InvariantCulture)}.");
        foreach (var (option, families) in new (Option Option, string[] Families)[]
                 {
                     (Hidden, ["mlp"]), (Activation, ["mlp"]), (Channels, ["cnn"]), (Width, ["resnet"]), (Blocks, ["resnet"]),
                     (InitStd, ["mlp", "mlp-sigmoid"]), (BatchNorm, NetworkChoice.Families), (Norm, NetworkChoice.Families),
                 })
            if (r.GetResult(option) is { Implicit: false } && !families.Contains(arch))
                throw new UsageException($"{option.Name} applies to {string.Join(" and ", families)}, not to {arch ?? "a model file"}.");
        if (r.GetResult(BatchNorm) is { Implicit: false } && r.GetResult(Norm) is { Implicit: false })
            throw new UsageException("give --norm or --bn, not both (--bn on is --norm batch, --bn off is --norm none).");
        if (r.GetValue(Groups) is not null && r.GetValue(Norm) != "group") throw new UsageException("--groups applies to --norm group.");
        if (r.GetValue(VirtualBatchSize) is not null && r.GetValue(Norm) != "ghost") throw new UsageException("--virtual-batch-size applies to --norm ghost.");
        string? json = null;
        if (model is not null)
        {
            if (!File.Exists(model)) throw new UsageException($"model file not found: {model}");
            json = File.ReadAllText(model);
        }
        return new NetworkChoice(arch, r.GetValue(BatchNorm) != "off", Sizes(r.GetValue(Hidden), Hidden.Name), r.GetValue(Activation),
            Sizes(r.GetValue(Channels), Channels.Name), Positive(r.GetValue(Width), Width.Name), Positive(r.GetValue(Blocks), Blocks.Name),
            r.GetValue(InitStd), model, json, r.GetValue(Norm), Positive(r.GetValue(Groups), Groups.Name), Positive(r.GetValue(VirtualBatchSize), VirtualBatchSize.Name));
    }

    private static int[]? Sizes(string? text, string name)
    {
        if (text is null) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v is >= 1 and <= 65536))
            return parts.Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        throw new UsageException($"{name} must be a comma-separated list of sizes in [1, 65536], got '{text}'.");
    }

    private static int? Positive(int? value, string name) =>
        value is { } v && v < 1 ? throw new UsageException($"{name} must be at least 1, got {v}.") : value;
}
