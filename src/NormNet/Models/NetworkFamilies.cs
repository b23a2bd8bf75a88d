using NormNet.Data;
using NormNet.Layers;

namespace NormNet.Models;

/// <summary>The built-in network families as <see cref="NetworkSpec"/> generators. Each family's network is just a
/// description whose input sizes are inferred, ending in <c>"$outputs"</c>, so the same family fits any input shape
/// and any number of classes or targets: <c>NetworkFamilies.Cnn().Build([3, 32, 32], 100, rng)</c>.</summary>
/// <remarks>For 28x28 grey images and 10 classes the families build exactly the networks of <c>Architectures</c> (NormNet.Samples)
/// (layers, state_dict names, and initial weights for the same generator).</remarks>
public static class NetworkFamilies
{
    /// <summary>The family names accepted by <see cref="Create"/>.</summary>
    public static readonly IReadOnlyList<string> Names = ["mlp-sigmoid", "mlp", "cnn", "resnet"];

    /// <summary>The hidden activations of <c>Mlp</c>.</summary>
    public static readonly IReadOnlyList<string> Activations = ["relu", "sigmoid", "tanh"];

    /// <summary>A family with its default settings: mlp-sigmoid (the paper's three sigmoid layers of 100), mlp (the same
    /// with ReLU), cnn (channels 32, 64) and resnet (width 16, one block per stage).</summary>
    /// <exception cref="ArgumentException">Unknown family.</exception>
    public static NetworkSpec Create(string family, bool batchNorm = true) => family switch
    {
        "mlp-sigmoid" => MlpSigmoid(batchNorm),
        "mlp" => Mlp([100, 100, 100], "relu", batchNorm),
        "cnn" => Cnn(batchNorm: batchNorm),
        "resnet" => ResNet(batchNorm: batchNorm),
        _ => throw new ArgumentException($"Unknown network family '{family}'; expected one of: {string.Join(", ", Names)}.", nameof(family)),
    };

    /// <summary>The input layout a family expects: flattened vectors for the MLPs, (C, H, W) images otherwise.</summary>
    /// <exception cref="ArgumentException">Unknown family.</exception>
    public static InputLayout LayoutOf(string family)
    {
        if (!Names.Contains(family))
            throw new ArgumentException($"Unknown network family '{family}'; expected one of: {string.Join(", ", Names)}.", nameof(family));
        return family.StartsWith("mlp", StringComparison.Ordinal) ? InputLayout.Flattened : InputLayout.Image;
    }

    /// <summary>The per-sample input shape of a family for images of <paramref name="imageShape"/> (C, H, W): the
    /// image itself, or its C*H*W values for the MLPs.</summary>
    public static int[] InputShapeOf(string family, int[] imageShape)
    {
        ArgumentNullException.ThrowIfNull(imageShape);
        if (imageShape.Length != 3 || imageShape.Any(d => d < 1))
            throw new ArgumentException($"Expected an image shape (channels, height, width), each at least 1, got {Tensor.Format(imageShape)}.", nameof(imageShape));
        return LayoutOf(family) == InputLayout.Flattened ? [imageShape[0] * imageShape[1] * imageShape[2]] : [.. imageShape];
    }

    /// <summary>The paper's network (784-100-100-100-10 on MNIST): three sigmoid layers of 100, batch norm (when on)
    /// between each hidden Linear and its sigmoid; input features and outputs come from the data.</summary>
    public static NetworkSpec MlpSigmoid(bool batchNorm = true) => Mlp([100, 100, 100], "sigmoid", batchNorm, "mlp-sigmoid");

    /// <summary>A multilayer perceptron on vectors: per hidden size Linear-[BatchNorm1d]-activation, then Linear to the outputs.</summary>
    /// <param name="hidden">The hidden sizes, e.g. [256, 128]; empty gives a linear model.</param>
    /// <param name="activation">relu, sigmoid or tanh.</param>
    /// <param name="batchNorm">Whether to put BatchNorm1d between each hidden Linear and its activation.</param>
    /// <param name="source">The name errors give for the description.</param>
    public static NetworkSpec Mlp(IReadOnlyList<int> hidden, string activation = "relu", bool batchNorm = true, string source = "mlp") =>
        Mlp(hidden, activation, Normalization.FromBatchNorm(batchNorm), source);

    /// <summary>A multilayer perceptron with <paramref name="norm"/> between each hidden Linear and its activation (see the
    /// other overload).</summary>
    public static NetworkSpec Mlp(IReadOnlyList<int> hidden, string activation, Normalization norm, string source = "mlp")
    {
        ArgumentNullException.ThrowIfNull(norm);
        ArgumentNullException.ThrowIfNull(hidden);
        CheckSizes(hidden, nameof(hidden));
        string type = activation switch
        {
            "relu" => "ReLU",
            "sigmoid" => "Sigmoid",
            "tanh" => "Tanh",
            _ => throw new ArgumentException($"Unknown activation '{activation}'; expected one of: {string.Join(", ", Activations)}.", nameof(activation)),
        };
        var layers = new List<LayerSpec>();
        foreach (int size in hidden)
        {
            layers.Add(Layer("Linear", ("out_features", size)));
            if (norm.AfterLinear() is { } n) layers.Add(n);
            layers.Add(Layer(type));
        }
        layers.Add(Layer("Linear", ("out_features", ArgDef.Outputs)));
        return new NetworkSpec(layers, source);
    }

    /// <summary>A convolutional network on (C, H, W) images: per entry of <paramref name="channels"/> a 3x3 convolution
    /// (padding 1)-[BatchNorm2d]-ReLU-MaxPool2d(2), then Flatten, Linear(<paramref name="hidden"/>)-[BatchNorm1d]-ReLU and
    /// Linear to the outputs. Each pooling halves the image, so an image smaller than 2^(number of entries) on either
    /// side is refused by shape inference, naming the pooling layer.</summary>
    /// <param name="channels">The convolutions' output channels; null gives [32, 64].</param>
    /// <param name="hidden">The width of the hidden fully connected layer.</param>
    /// <param name="batchNorm">Whether to put batch norm after each convolution and the hidden Linear.</param>
    public static NetworkSpec Cnn(IReadOnlyList<int>? channels = null, int hidden = 128, bool batchNorm = true) =>
        Cnn(channels, hidden, Normalization.FromBatchNorm(batchNorm));

    /// <summary>The convolutional network with <paramref name="norm"/> after each convolution and the hidden Linear.</summary>
    public static NetworkSpec Cnn(IReadOnlyList<int>? channels, int hidden, Normalization norm)
    {
        ArgumentNullException.ThrowIfNull(norm);
        channels ??= [32, 64];
        if (channels.Count == 0) throw new ArgumentException("Expected at least one convolution's channels, got none.", nameof(channels));
        CheckSizes(channels, nameof(channels));
        ArgumentOutOfRangeException.ThrowIfLessThan(hidden, 1);
        var layers = new List<LayerSpec>();
        foreach (int c in channels)
        {
            layers.Add(Layer("Conv2d", ("out_channels", c), ("kernel_size", 3), ("padding", 1)));
            if (norm.AfterConv() is { } n) layers.Add(n);
            layers.Add(Layer("ReLU"));
            layers.Add(Layer("MaxPool2d", ("kernel_size", 2)));
        }
        layers.Add(Layer("Flatten"));
        layers.Add(Layer("Linear", ("out_features", hidden)));
        if (norm.AfterLinear() is { } fc) layers.Add(fc);
        layers.Add(Layer("ReLU"));
        layers.Add(Layer("Linear", ("out_features", ArgDef.Outputs)));
        return new NetworkSpec(layers, "cnn");
    }

    /// <summary>A small ResNet on (C, H, W) images: a 3x3 stem of <paramref name="width"/> channels, then stages of
    /// post-activation residual blocks (two 3x3 convolutions) whose width doubles from stage to stage; every stage after
    /// the first starts with a stride-2 block, and a block that changes the shape has a 1x1 projection shortcut; then
    /// global average pooling and a Linear to the outputs. Convolutions followed by batch norm have no bias.</summary>
    /// <param name="width">The stem's and the first stage's channels.</param>
    /// <param name="blocks">The number of blocks per stage; null gives [1, 1, 1].</param>
    /// <param name="batchNorm">Whether to put BatchNorm2d after every convolution.</param>
    public static NetworkSpec ResNet(int width = 16, IReadOnlyList<int>? blocks = null, bool batchNorm = true) =>
        ResNet(width, blocks, Normalization.FromBatchNorm(batchNorm));

    /// <summary>The small ResNet with <paramref name="norm"/> after every convolution.</summary>
    public static NetworkSpec ResNet(int width, IReadOnlyList<int>? blocks, Normalization norm)
    {
        ArgumentNullException.ThrowIfNull(norm);
        blocks ??= [1, 1, 1];
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        if (blocks.Count == 0) throw new ArgumentException("Expected at least one stage, got none.", nameof(blocks));
        CheckSizes(blocks, nameof(blocks));
        var layers = new List<LayerSpec>();
        layers.AddRange(ConvNorm(width, 3, 1, norm));
        layers.Add(Layer("ReLU"));
        int channels = width;
        for (int stage = 0; stage < blocks.Count; stage++)
        {
            int stageWidth = checked(width << stage);
            for (int b = 0; b < blocks[stage]; b++)
            {
                layers.Add(Block(channels, stageWidth, stage > 0 && b == 0 ? 2 : 1, norm));
                layers.Add(Layer("ReLU"));
                channels = stageWidth;
            }
        }
        layers.Add(Layer("GlobalAvgPool2d"));
        layers.Add(Layer("Linear", ("out_features", ArgDef.Outputs)));
        return new NetworkSpec(layers, "resnet");
    }

    /// <summary>An initializer for <see cref="NetworkSpec.Build"/>: each Linear's weights redrawn from N(0, std^2) with
    /// <paramref name="rng"/> right after it is created, and its bias zeroed (the paper's "small random Gaussian values").</summary>
    public static Action<Module> NormalLinearInit(double std, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (!(std > 0 && double.IsFinite(std))) throw new ArgumentOutOfRangeException(nameof(std), std, "Expected a positive, finite standard deviation.");
        return module =>
        {
            if (module is not Linear linear) return;
            Init.Normal(linear.Weight.Value, 0, std, rng);
            linear.Bias?.Value.Span.Clear();
        };
    }

    private static LayerSpec Block(int inChannels, int outChannels, int stride, Normalization norm)
    {
        var body = new List<LayerSpec>(ConvNorm(outChannels, 3, stride, norm)) { Layer("ReLU") };
        body.AddRange(ConvNorm(outChannels, 3, 1, norm));
        var shortcut = stride == 1 && inChannels == outChannels ? [] : ConvNorm(outChannels, 1, stride, norm);
        return LayerSpec.Create(LayerCatalog.Find("Residual")!, new Dictionary<string, object?>(),
            new Dictionary<string, IReadOnlyList<LayerSpec>> { ["body"] = body, ["shortcut"] = shortcut });
    }

    /// <summary>A k x k convolution (padding k / 2, no bias before a normalization's shift) and its normalization, if any.</summary>
    private static List<LayerSpec> ConvNorm(int channels, int kernel, int stride, Normalization norm)
    {
        var conv = Layer("Conv2d", ("out_channels", channels), ("kernel_size", kernel), ("stride", stride), ("padding", kernel / 2), ("bias", !norm.RemovesBias(true)));
        return norm.AfterConv() is { } n ? [conv, n] : [conv];
    }

    internal static LayerSpec Layer(string type, params (string Name, object? Value)[] args) =>
        LayerSpec.Create(LayerCatalog.Find(type)!, args.ToDictionary(a => a.Name, a => a.Value));

    private static void CheckSizes(IReadOnlyList<int> sizes, string name)
    {
        if (sizes.Any(s => s < 1))
            throw new ArgumentOutOfRangeException(name, $"Expected sizes of at least 1, got [{string.Join(", ", sizes)}].");
    }
}
