using NormNet.Layers;

namespace NormNet.Tests.Models;

/// <summary>The hand-written builders of NormNet.Models.Architectures as they were before the architectures became
/// NetworkSpec descriptions (commit 8cbddcb), kept verbatim as the reference that the spec-built networks must equal
/// bit for bit: golden files, the PyTorch interop fixtures and the experiments depend on these exact layers and draws.</summary>
internal static class LegacyArchitectures
{
    /// <summary>The paper's MNIST network: 784-100-100-100-10 with sigmoid hidden units, batch norm (when on) between each
    /// hidden Linear and its sigmoid.</summary>
    public static Sequential MlpSigmoid(bool batchNorm, Rng rng, double? initStd = null) => Mlp(batchNorm, rng, relu: false, initStd);

    /// <summary>784-100-100-100-10 with sigmoid or ReLU hidden units, batch norm (when on) between each hidden Linear and its
    /// activation; weights N(0, initStd) with zero biases when <paramref name="initStd"/> is given, else PyTorch's defaults.</summary>
    public static Sequential Mlp(bool batchNorm, Rng rng, bool relu, double? initStd = null)
    {
        var model = new Sequential();
        int inputs = 28 * 28;
        for (int i = 0; i < 3; i++)
        {
            var linear = new Linear(inputs, 100, rng: rng);
            Initialize(linear, rng, initStd);
            model.Add(linear);
            if (batchNorm) model.Add(new BatchNorm1d(100));
            model.Add(relu ? new ReLU() : new Sigmoid());
            inputs = 100;
        }
        var head = new Linear(100, 10, rng: rng);
        Initialize(head, rng, initStd);
        return model.Add(head);
    }

    /// <summary>conv32-[BN]-ReLU-pool-conv64-[BN]-ReLU-pool-fc128-[BN]-ReLU-fc10 with 3x3 convolutions (padding 1).</summary>
    public static Sequential Cnn(bool batchNorm, Rng rng)
    {
        var model = new Sequential();
        model.Add(new Conv2d(1, 32, 3, padding: 1, rng: rng));
        if (batchNorm) model.Add(new BatchNorm2d(32));
        model.Add(new ReLU()).Add(new MaxPool2d(2));
        model.Add(new Conv2d(32, 64, 3, padding: 1, rng: rng));
        if (batchNorm) model.Add(new BatchNorm2d(64));
        model.Add(new ReLU()).Add(new MaxPool2d(2)).Add(new Flatten());
        model.Add(new Linear(64 * 7 * 7, 128, rng: rng));
        if (batchNorm) model.Add(new BatchNorm1d(128));
        return model.Add(new ReLU()).Add(new Linear(128, 10, rng: rng));
    }

    /// <summary>A small ResNet: a 3x3 stem of 16 channels, three residual stages (16, 32 and 64 channels; the last two
    /// halve the resolution with a strided convolution and a 1x1 projection shortcut), global average pooling and a
    /// linear classifier. Convolutions followed by BN have no bias.</summary>
    public static Sequential ResNet(bool batchNorm, Rng rng)
    {
        var model = new Sequential(new Conv2d(1, 16, 3, padding: 1, bias: !batchNorm, rng: rng));
        if (batchNorm) model.Add(new BatchNorm2d(16));
        model.Add(new ReLU());
        int channels = 16;
        foreach (var (width, stride) in new[] { (16, 1), (32, 2), (64, 2) })
        {
            model.Add(Block(channels, width, stride, batchNorm, rng)).Add(new ReLU());
            channels = width;
        }
        return model.Add(new GlobalAvgPool2d()).Add(new Linear(channels, 10, rng: rng));
    }

    private static Residual Block(int inChannels, int outChannels, int stride, bool batchNorm, Rng rng)
    {
        var body = new Sequential(new Conv2d(inChannels, outChannels, 3, stride, 1, bias: !batchNorm, rng: rng));
        if (batchNorm) body.Add(new BatchNorm2d(outChannels));
        body.Add(new ReLU()).Add(new Conv2d(outChannels, outChannels, 3, 1, 1, bias: !batchNorm, rng: rng));
        if (batchNorm) body.Add(new BatchNorm2d(outChannels));
        if (stride == 1 && inChannels == outChannels) return new Residual(body);
        var shortcut = new Sequential(new Conv2d(inChannels, outChannels, 1, stride, 0, bias: !batchNorm, rng: rng));
        if (batchNorm) shortcut.Add(new BatchNorm2d(outChannels));
        return new Residual(body, shortcut);
    }

    private static void Initialize(Linear linear, Rng rng, double? std)
    {
        if (std is not { } s) return;
        Init.Normal(linear.Weight.Value, 0, s, rng);
        linear.Bias?.Value.Span.Clear();
    }
}
