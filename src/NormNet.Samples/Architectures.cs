using NormNet.Data;
using NormNet.Layers;

namespace NormNet.Models;

/// <summary>The built-in architectures of the <c>normnet</c> command and the experiments. The overloads without an input
/// shape build them for 28x28 grey images and 10 classes, as before; the others build any <see cref="NetworkFamilies"/>
/// member for the data's input shape and outputs. Each is a <see cref="NetworkSpec"/> built with the given generator.</summary>
public static class Architectures
{
    /// <summary>The names of the command's architectures, accepted by <see cref="Create(string, bool, Rng, double?)"/>.</summary>
    public static readonly string[] Names = ["mlp-sigmoid", "cnn", "resnet"];

    /// <summary>The classic image shape these builders assumed: one channel of 28x28 (MNIST, Fashion-MNIST).</summary>
    private static readonly int[] Mnist = [1, 28, 28];

    private const int MnistClasses = 10;

    /// <summary>Builds an architecture by name for 28x28 grey images and 10 classes.</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="batchNorm">Whether to insert batch normalization.</param>
    /// <param name="rng">Draws the initial weights.</param>
    /// <param name="initStd">For mlp-sigmoid: the standard deviation of the Gaussian initial weights (biases start at 0);
    /// null keeps PyTorch's default initialization.</param>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static Sequential Create(string name, bool batchNorm, Rng rng, double? initStd = null)
    {
        if (!Names.Contains(name))
            throw new ArgumentException($"Unknown architecture '{name}'; expected one of: {string.Join(", ", Names)}.", nameof(name));
        return Create(name, batchNorm, rng, InputShapeOf(name), MnistClasses, initStd);
    }

    /// <summary>Builds a network family (<see cref="NetworkFamilies.Names"/>, with its defaults) for the data's per-sample
    /// input shape and number of outputs.</summary>
    /// <param name="name">One of <see cref="NetworkFamilies.Names"/>.</param>
    /// <param name="batchNorm">Whether to insert batch normalization.</param>
    /// <param name="rng">Draws the initial weights.</param>
    /// <param name="inputShape">One sample's shape without the batch: <c>[784]</c> for the MLPs, <c>[3, 32, 32]</c> for images
    /// (see <see cref="InputShapeOf(string, int[])"/>).</param>
    /// <param name="outputs">The number of classes or regression targets.</param>
    /// <param name="initStd">For the MLPs: Gaussian initial weights of this standard deviation and zero biases; ignored by the others.</param>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    /// <exception cref="InvalidDataException">The family does not fit the input shape (e.g. an image too small to pool).</exception>
    public static Sequential Create(string name, bool batchNorm, Rng rng, int[] inputShape, int outputs, double? initStd = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var spec = NetworkFamilies.Create(name, batchNorm);
        bool mlp = NetworkFamilies.LayoutOf(name) == InputLayout.Flattened;
        return spec.Build(inputShape, outputs, rng, mlp && initStd is { } std ? NetworkFamilies.NormalLinearInit(std, rng) : null);
    }

    /// <summary>The input layout an architecture expects.</summary>
    public static InputLayout LayoutOf(string name) => name == "mlp-sigmoid" ? InputLayout.Flattened : InputLayout.Image;

    /// <summary>The per-sample input shape of an architecture for 28x28 grey images: <c>[784]</c> for "mlp-sigmoid",
    /// <c>[1, 28, 28]</c> for "cnn" and "resnet".</summary>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static int[] InputShapeOf(string name)
    {
        if (!Names.Contains(name))
            throw new ArgumentException($"Unknown architecture '{name}'; expected one of: {string.Join(", ", Names)}.", nameof(name));
        return InputShapeOf(name, Mnist);
    }

    /// <summary>The per-sample input shape of a network family for images of <paramref name="imageShape"/> (C, H, W): the
    /// image itself, or its C*H*W values for the MLPs.</summary>
    public static int[] InputShapeOf(string name, int[] imageShape) => NetworkFamilies.InputShapeOf(name, imageShape);

    /// <summary>The paper's MNIST network: 784-100-100-100-10 with sigmoid hidden units, batch norm (when on) between each
    /// hidden Linear and its sigmoid.</summary>
    public static Sequential MlpSigmoid(bool batchNorm, Rng rng, double? initStd = null) => Mlp(batchNorm, rng, relu: false, initStd);

    /// <summary>784-100-100-100-10 with sigmoid or ReLU hidden units, batch norm (when on) between each hidden Linear and its
    /// activation; weights N(0, initStd) with zero biases when <paramref name="initStd"/> is given, else PyTorch's defaults.</summary>
    public static Sequential Mlp(bool batchNorm, Rng rng, bool relu, double? initStd = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var spec = relu ? NetworkFamilies.Mlp([100, 100, 100], "relu", batchNorm) : NetworkFamilies.MlpSigmoid(batchNorm);
        return spec.Build([28 * 28], MnistClasses, rng, initStd is { } std ? NetworkFamilies.NormalLinearInit(std, rng) : null);
    }

    /// <summary>conv32-[BN]-ReLU-pool-conv64-[BN]-ReLU-pool-fc128-[BN]-ReLU-fc10 with 3x3 convolutions (padding 1).</summary>
    public static Sequential Cnn(bool batchNorm, Rng rng) => NetworkFamilies.Cnn(batchNorm: batchNorm).Build(Mnist, MnistClasses, rng);

    /// <summary>A small ResNet: a 3x3 stem of 16 channels, three residual stages (16, 32 and 64 channels; the last two
    /// halve the resolution with a strided convolution and a 1x1 projection shortcut), global average pooling and a
    /// linear classifier. Convolutions followed by BN have no bias.</summary>
    public static Sequential ResNet(bool batchNorm, Rng rng) => NetworkFamilies.ResNet(batchNorm: batchNorm).Build(Mnist, MnistClasses, rng);
}
