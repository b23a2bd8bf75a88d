using NormNet.Layers;
using NormNet.Losses;
using NormNet.Models;
using NormNet.Optim;

namespace NormNet.Bench;

/// <summary>A training step on fixed random data, the same work as the PyTorch peer's step.</summary>
internal static class TrainingStep
{
    public static Action Create(string arch, bool batchNorm, int batch)
    {
        var rng = new Rng(0);
        Sequential model = arch switch
        {
            "mlp" => Architectures.MlpSigmoid(batchNorm, rng),
            "cnn" => Architectures.Cnn(batchNorm, rng),
            _ => Architectures.Create(arch, batchNorm, rng),
        };
        model.RequiresInputGradient = false; // as in PyTorch, where the input does not require grad
        int[] shape = arch == "mlp" ? [batch, 784] : [batch, 1, 28, 28];
        var x = BatchNormCase.Filled(shape, 3);
        var labels = Enumerable.Range(0, batch).Select(i => rng.NextInt(10)).ToArray();
        var optimizer = new Sgd(model.NamedParameters(), 0.1);
        var loss = new CrossEntropyLoss();
        return () =>
        {
            optimizer.ZeroGrad();
            loss.Forward(model.Forward(x), labels);
            model.Backward(loss.Backward());
            optimizer.Step();
        };
    }
}
