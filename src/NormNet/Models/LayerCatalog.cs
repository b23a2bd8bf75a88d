using NormNet.Layers;
using static NormNet.Models.ArgDef;
using static NormNet.Models.ArgKind;

namespace NormNet.Models;

/// <summary>The layer table of network descriptions: one entry per layer type, with its PyTorch arguments and
/// defaults, its shape rule, its constructor and its description of a built module. Adding a layer type (GroupNorm,
/// LayerNorm) is adding one entry to <see cref="All"/>.</summary>
/// <remarks>Shapes are per sample, without the batch dimension: <c>(features)</c> for vectors, <c>(channels, height,
/// width)</c> for images.</remarks>
internal static class LayerCatalog
{
    private static readonly ArgDef[] ConvArgs =
    [
        Inferred("in_channels"), Required("out_channels", PositiveInt, allowsOutputs: true), Required("kernel_size", PositiveInt),
        Optional("stride", PositiveInt, 1), Optional("padding", NonNegativeInt, 0), Optional("bias", Bool, true),
    ];

    private static readonly ArgDef[] PoolArgs =
    [
        Required("kernel_size", PositiveInt), Optional("stride", PositiveInt, null, allowsNull: true), Optional("padding", NonNegativeInt, 0),
    ];

    private static readonly ArgDef[] BatchNormArgs =
    [
        Inferred("num_features"), Optional("eps", NonNegativeNumber, 1e-5), Optional("momentum", Fraction, 0.1, allowsNull: true),
        Optional("affine", Bool, true), Optional("track_running_stats", Bool, true), Optional("virtual_batch_size", PositiveInt, null, allowsNull: true),
    ];

    private static readonly ArgDef[] InstanceNormArgs =
    [
        Inferred("num_features"), Optional("eps", NonNegativeNumber, 1e-5), Optional("momentum", Fraction, 0.1),
        Optional("affine", Bool, false), Optional("track_running_stats", Bool, false),
    ];

    private static readonly ArgDef[] RenormArgs =
    [
        Inferred("num_features"), Optional("eps", NonNegativeNumber, 1e-5), Optional("momentum", Fraction, 0.1),
        Optional("affine", Bool, true), Optional("r_max", NonNegativeNumber, 3.0), Optional("d_max", NonNegativeNumber, 5.0),
    ];

    /// <summary>Every layer type, in the order the documentation lists them.</summary>
    public static readonly IReadOnlyList<LayerKind> All =
    [
        Leaf<Linear>("Linear", [Inferred("in_features"), Required("out_features", PositiveInt, allowsOutputs: true), Optional("bias", Bool, true)],
            c =>
            {
                c.ExpectRank([1], "(features)", "add a Flatten before it");
                c.InferSize("in_features", c.Input[0], "features");
                return [c.Int("out_features")];
            },
            c => new Linear(c.Int("in_features"), c.Int("out_features"), c.Bool("bias"), c.Rng),
            (l, _) => [l.InFeatures, l.OutFeatures, l.Bias is not null]),
        Leaf<Conv2d>("Conv2d", ConvArgs,
            c =>
            {
                c.ExpectRank([3], "(channels, height, width)");
                c.InferSize("in_channels", c.Input[0], "channels");
                return Spatial(c, c.Int("out_channels"), c.Int("kernel_size"), c.Int("stride"), c.Int("padding"));
            },
            c => new Conv2d(c.Int("in_channels"), c.Int("out_channels"), c.Int("kernel_size"), c.Int("stride"), c.Int("padding"), c.Bool("bias"), c.Rng),
            (m, _) => [m.InChannels, m.OutChannels, m.KernelSize, m.Stride, m.Padding, m.Bias is not null]),
        BatchNorm<BatchNorm1d>("BatchNorm1d", [1, 2], "(features) or (channels, length)",
            (n, eps, momentum, affine, track, v) => new BatchNorm1d(n, eps, momentum, affine, track, v)),
        BatchNorm<BatchNorm2d>("BatchNorm2d", [3], "(channels, height, width)",
            (n, eps, momentum, affine, track, v) => new BatchNorm2d(n, eps, momentum, affine, track, virtualBatchSize: v)),
        BatchNorm<BatchNorm3d>("BatchNorm3d", [4], "(channels, depth, height, width)",
            (n, eps, momentum, affine, track, v) => new BatchNorm3d(n, eps, momentum, affine, track, v)),
        Leaf<BatchRenorm1d>("BatchRenorm1d", RenormArgs, c => Channels(c, [1, 2], "(features) or (channels, length)", "num_features"),
            c => new BatchRenorm1d(c.Int("num_features"), c.Number("eps"), c.Number("momentum"), c.Bool("affine"), c.Number("r_max"), c.Number("d_max")),
            (m, path) => m.Schedule is null ? [m.NumFeatures, m.Eps, m.Momentum, m.Affine, m.RMax, m.DMax] : throw Scheduled(path)),
        Leaf<BatchRenorm2d>("BatchRenorm2d", RenormArgs, c => Channels(c, [3], "(channels, height, width)", "num_features"),
            c => new BatchRenorm2d(c.Int("num_features"), c.Number("eps"), c.Number("momentum"), c.Bool("affine"), c.Number("r_max"), c.Number("d_max")),
            (m, path) => m.Schedule is null ? [m.NumFeatures, m.Eps, m.Momentum, m.Affine, m.RMax, m.DMax] : throw Scheduled(path)),
        Leaf<FrozenBatchNorm2d>("FrozenBatchNorm2d", [Inferred("num_features"), Optional("eps", NonNegativeNumber, 1e-5)],
            c => Channels(c, [3], "(channels, height, width)", "num_features"),
            c => new FrozenBatchNorm2d(c.Int("num_features"), c.Number("eps")), (m, _) => [m.NumFeatures, m.Eps]),
        Leaf<GroupNorm>("GroupNorm", [Required("num_groups", PositiveInt), Inferred("num_channels"), Optional("eps", NonNegativeNumber, 1e-5), Optional("affine", Bool, true)],
            c =>
            {
                var output = Channels(c, [1, 2, 3], "(channels), (channels, length) or (channels, height, width)", "num_channels");
                if (c.Int("num_channels") % c.Int("num_groups") != 0)
                    throw c.Error($"num_channels {c.Int("num_channels")} is not divisible by num_groups {c.Int("num_groups")}");
                return output;
            },
            c => new GroupNorm(c.Int("num_groups"), c.Int("num_channels"), c.Number("eps"), c.Bool("affine")),
            (m, _) => [m.NumGroups, m.NumChannels, m.Eps, m.Affine]),
        Leaf<LayerNorm>("LayerNorm", [Optional("eps", NonNegativeNumber, 1e-5), Optional("elementwise_affine", Bool, true), Optional("bias", Bool, true)],
            c => c.Input, // normalized over the whole sample: normalized_shape is the layer's input shape
            c => new LayerNorm(c.Input, c.Number("eps"), c.Bool("elementwise_affine"), c.Bool("bias")),
            (m, _) => [m.Eps, m.ElementwiseAffine, m.Bias is not null || !m.ElementwiseAffine]),
        Leaf<InstanceNorm1d>("InstanceNorm1d", InstanceNormArgs, c => Channels(c, [2], "(channels, length)", "num_features"),
            c => new InstanceNorm1d(c.Int("num_features"), c.Number("eps"), c.Number("momentum"), c.Bool("affine"), c.Bool("track_running_stats")),
            (m, _) => [m.NumFeatures, m.Eps, m.Momentum, m.Affine, m.TrackRunningStats]),
        Leaf<InstanceNorm2d>("InstanceNorm2d", InstanceNormArgs, c => Channels(c, [3], "(channels, height, width)", "num_features"),
            c => new InstanceNorm2d(c.Int("num_features"), c.Number("eps"), c.Number("momentum"), c.Bool("affine"), c.Bool("track_running_stats")),
            (m, _) => [m.NumFeatures, m.Eps, m.Momentum, m.Affine, m.TrackRunningStats]),
        Pool<MaxPool2d>("MaxPool2d", (k, s, p) => new MaxPool2d(k, s, p)),
        Pool<AvgPool2d>("AvgPool2d", (k, s, p) => new AvgPool2d(k, s, p)),
        Leaf<GlobalAvgPool2d>("GlobalAvgPool2d", [],
            c =>
            {
                c.ExpectRank([3], "(channels, height, width)");
                return [c.Input[0]];
            },
            _ => new GlobalAvgPool2d(), (_, _) => []),
        Leaf<Flatten>("Flatten", [], c => [c.Input.Aggregate(1, (a, b) => checked(a * b))], _ => new Flatten(), (_, _) => []),
        Leaf<ReLU>("ReLU", [], c => c.Input, _ => new ReLU(), (_, _) => []),
        Leaf<Sigmoid>("Sigmoid", [], c => c.Input, _ => new Sigmoid(), (_, _) => []),
        Leaf<Tanh>("Tanh", [], c => c.Input, _ => new Tanh(), (_, _) => []),
        Leaf<Dropout>("Dropout", [Optional("p", Probability, 0.5)], c => c.Input, c => new Dropout(c.Number("p"), c.Rng), (d, _) => [d.P]),
        new LayerKind("Sequential", typeof(Sequential), [], c => c.Walk("layers", c.Input), c => new Sequential(c.Built("layers")),
            (_, _) => [], [new ChildList("layers", IsRequired: true)],
            (m, _) => [((Sequential)m).Children().Select(x => x.Module).ToArray()]),
        new LayerKind("Residual", typeof(Residual), [], InferResidual, CreateResidual,
            (_, _) => [], [new ChildList("body", IsRequired: true), new ChildList("shortcut", IsRequired: false)], DescribeResidual),
    ];

    /// <summary>The type names, for error messages.</summary>
    public static IEnumerable<string> Names => All.Select(k => k.Type);

    /// <summary>The entry of a type name (exact spelling), or null.</summary>
    public static LayerKind? Find(string type) => All.FirstOrDefault(k => k.Type == type);

    /// <summary>The entry that builds modules of exactly this class, or null.</summary>
    public static LayerKind? ForModule(Type moduleType) => All.FirstOrDefault(k => k.ModuleType == moduleType);

    /// <summary>An entry for a layer without children.</summary>
    private static LayerKind Leaf<T>(string type, ArgDef[] args, Func<LayerContext, int[]> infer, Func<LayerContext, T> create,
        Func<T, string, object?[]> describe) where T : Module =>
        new(type, typeof(T), args, infer, c => create(c), (m, path) => describe((T)m, path));

    private static LayerKind BatchNorm<T>(string type, int[] ranks, string layout, Func<int, double, double?, bool, bool, int?, T> create)
        where T : BatchNormBase =>
        Leaf<T>(type, BatchNormArgs,
            c => Channels(c, ranks, layout, "num_features"),
            c => create(c.Int("num_features"), c.Number("eps"), c.NumberOrNull("momentum"), c.Bool("affine"), c.Bool("track_running_stats"), c.IntOrNull("virtual_batch_size")),
            (m, path) => m is BatchNorm2d { MemoryFormat: MemoryFormat.ChannelsLast }
                ? throw new NotSupportedException($"NetworkSpec.Describe: BatchNorm2d at '{path}' is channels-last; network descriptions hold (N, C, H, W) layers only.")
                : [m.NumFeatures, m.Eps, m.Momentum, m.Affine, m.TrackRunningStats, m.VirtualBatchSize]);

    /// <summary>A per-channel layer's shape rule: the input of one of <paramref name="ranks"/> passes through, its first
    /// dimension (channels) filling in <paramref name="sizeName"/>.</summary>
    private static int[] Channels(LayerContext c, int[] ranks, string layout, string sizeName)
    {
        c.ExpectRank(ranks, layout);
        c.InferSize(sizeName, c.Input[0], "channels");
        return c.Input;
    }

    private static NotSupportedException Scheduled(string path) =>
        new($"NetworkSpec.Describe: the BatchRenorm at '{path}' ramps rMax/dMax over steps; network descriptions hold fixed r_max and d_max only.");

    private static LayerKind Pool<T>(string type, Func<int, int?, int, T> create) where T : Pool2d =>
        Leaf<T>(type, PoolArgs,
            c =>
            {
                c.ExpectRank([3], "(channels, height, width)");
                int kernel = c.Int("kernel_size"), padding = c.Int("padding");
                if (padding > kernel / 2)
                    throw c.Error($"padding is {padding}, but it must be at most half of kernel_size {kernel} ({kernel / 2})");
                if (c.IntOrNull("stride") == kernel) c.Set("stride", null); // PyTorch's default, written as such
                return Spatial(c, c.Input[0], kernel, c.IntOrNull("stride") ?? kernel, padding);
            },
            c => create(c.Int("kernel_size"), c.IntOrNull("stride"), c.Int("padding")),
            (m, _) => [m.KernelSize, m.Stride == m.KernelSize ? null : m.Stride, m.Padding]);

    /// <summary>The output of a convolution or pooling window over (C, H, W): (channels, H', W') with
    /// H' = floor((H + 2 padding - kernel) / stride) + 1; an input smaller than the window is an error.</summary>
    private static int[] Spatial(LayerContext c, int channels, int kernel, int stride, int padding)
    {
        int h = c.Input[1], w = c.Input[2];
        int outH = Math.Max(0, FloorDiv(h + 2 * padding - kernel, stride) + 1), outW = Math.Max(0, FloorDiv(w + 2 * padding - kernel, stride) + 1);
        if (outH == 0 || outW == 0)
            throw c.Error($"input {c.InputText} is too small for kernel_size {kernel} with padding {padding}: the output would be " +
                          $"{outH} x {outW}; height and width must be at least {kernel - 2 * padding} (use a larger input or fewer pooling layers)");
        return [channels, outH, outW];
    }

    private static int FloorDiv(int a, int b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    private static int[] InferResidual(LayerContext c)
    {
        var body = c.Walk("body", c.Input);
        var shortcut = c.Walk("shortcut", c.Input);
        if (!body.SequenceEqual(shortcut))
        {
            string from = c.Layer.Children.GetValueOrDefault("shortcut") is { Count: > 0 } ? "the shortcut's output" : "its input (the identity shortcut)";
            throw c.Error($"the body's output {Tensor.Format(body)} differs from {from} {Tensor.Format(shortcut)}; " +
                          "the two are added, so give a shortcut that maps the input to the body's output shape");
        }
        return body;
    }

    private static Residual CreateResidual(LayerContext c)
    {
        var shortcut = c.Built("shortcut");
        return new Residual(new Sequential(c.Built("body")), shortcut.Length == 0 ? null : new Sequential(shortcut));
    }

    private static IReadOnlyList<Module>[] DescribeResidual(Module module, string path)
    {
        var residual = (Residual)module;
        return [Unwrap(residual.Body, path, "body"), residual.Shortcut is null ? [] : Unwrap(residual.Shortcut, path, "shortcut")];
    }

    private static Module[] Unwrap(Module part, string path, string name) => part is Sequential s
        ? s.Children().Select(x => x.Module).ToArray()
        : throw new NotSupportedException($"NetworkSpec.Describe: the {name} of Residual at '{path}' is a {part.GetType().Name}; " +
                                          $"a network description writes it as a list of layers, so it must be a Sequential.");
}
