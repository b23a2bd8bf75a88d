using NormNet.Layers;
using NormNet.Models;

namespace NormNet.Cli.Experiments;

/// <summary>The setting the experiments share for the paper's MNIST network: 784-100-100-100-10 with sigmoid units,
/// plain SGD, mini-batches of 60. The paper says only "small random Gaussian values" for the initial weights and gives
/// no learning rate; the defaults here, N(0, 0.05) and 0.1, are the cell of the fig1 grid taken as the closest reading
/// of that description (the smaller std of the two, the smaller rate), and fig1 reports the other cells too.</summary>
internal static class PaperMlp
{
    public const double InitStd = 0.05, LearningRate = 0.1;
    public const int BatchSize = 60;

    /// <summary>The network, with or without batch norm, its weights drawn from <paramref name="seed"/>.</summary>
    public static Sequential Build(bool batchNorm, ulong seed, double initStd = InitStd) => Architectures.MlpSigmoid(batchNorm, new Rng(seed), initStd);
}
