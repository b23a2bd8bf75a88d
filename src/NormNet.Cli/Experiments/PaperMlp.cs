using NormNet.Layers;
using NormNet.Models;

namespace NormNet.Cli.Experiments;

/// <summary>The setting the experiments share for the paper's MNIST network: 784-100-100-100-10 with sigmoid units,
/// weights N(0, 0.1) ("small random Gaussian values"), plain SGD with learning rate 0.5, mini-batches of 60.</summary>
internal static class PaperMlp
{
    public const double InitStd = 0.1, LearningRate = 0.5;
    public const int BatchSize = 60;

    /// <summary>The network, with or without batch norm, its weights drawn from <paramref name="seed"/>.</summary>
    public static Sequential Build(bool batchNorm, ulong seed) => Architectures.MlpSigmoid(batchNorm, new Rng(seed), InitStd);
}
