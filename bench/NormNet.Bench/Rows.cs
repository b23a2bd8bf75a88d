namespace NormNet.Bench;

/// <summary>The rows of the side-by-side benchmark (same ids as bench/peer/pytorch_rows.py).</summary>
internal static class Rows
{
    public static readonly string[] BatchNormShapes =
        ["60x100", "256x1024", "32x64x56x56", "32x64x56x56-cl", "128x256x14x14", "128x256x14x14-cl", "64x128x56x56", "64x128x56x56-cl"];

    public static IEnumerable<Row> All() => BatchNorm().Concat(NormRows.All()).Concat(TrainingSteps());

    /// <summary>One training step (zero grad, forward, cross-entropy, backward, SGD lr 0.1) of the paper's MLP at batch 60
    /// and of the cnn and the resnet at batch 128, with and without BN, on fixed random inputs and labels, as pytorch_train.py measures.</summary>
    public static IEnumerable<Row> TrainingSteps()
    {
        foreach (var (arch, batch, runs) in new[] { ("mlp", 60, 300), ("cnn", 128, 20), ("resnet", 128, 20) })
            foreach (bool bn in new[] { false, true })
                yield return new Row($"{arch} step bn={(bn ? "on" : "off")} batch={batch}", () => TrainingStep.Create(arch, bn, batch), 0, runs);
    }

    private static IEnumerable<Row> BatchNorm()
    {
        foreach (var shape in BatchNormShapes)
        {
            long n = BatchNormCase.Elements(shape);
            yield return new Row($"bn train-fwd {shape}", () =>
            {
                var (bn, x) = BatchNormCase.Create(shape);
                bn.Train();
                return () => bn.Forward(x);
            }, 12 * n);
            yield return new Row($"bn backward {shape}", () =>
            {
                var (bn, x) = BatchNormCase.Create(shape);
                var g = BatchNormCase.Filled(x.Shape, 7);
                bn.Train();
                bn.Forward(x);
                return () => bn.Backward(g);
            }, 20 * n);
            yield return new Row($"bn eval-fwd {shape}", () =>
            {
                var (bn, x) = BatchNormCase.Create(shape);
                bn.Eval();
                return () => bn.Forward(x);
            }, 8 * n);
        }
    }
}
