namespace NormNet.Losses;

/// <summary>Mean squared error over all elements, as <c>torch.nn.MSELoss</c> (reduction "mean").</summary>
public sealed class MseLoss
{
    private Tensor? _prediction, _target, _grad;

    /// <summary>mean((prediction - target)^2).</summary>
    public double Forward(Tensor prediction, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        if (!prediction.SameShape(target))
            throw new ArgumentException($"MseLoss: prediction {prediction.ShapeString} and target {target.ShapeString} differ.");
        if (prediction.Length == 0) throw new ArgumentException("MseLoss: empty input.");
        var p = prediction.ReadOnlySpan;
        var t = target.ReadOnlySpan;
        double sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double d = p[i] - (double)t[i];
            sum += d * d;
        }
        _prediction = prediction;
        _target = target;
        return sum / p.Length;
    }

    /// <summary>The gradient with respect to the prediction: 2 (prediction - target) / numel.</summary>
    public Tensor Backward()
    {
        if (_prediction is null || _target is null) throw new InvalidOperationException("MseLoss.Backward called before Forward.");
        _grad = Tensor.Reuse(_grad, _prediction.Dims);
        var p = _prediction.ReadOnlySpan;
        var t = _target.ReadOnlySpan;
        var g = _grad.Span;
        float scale = 2f / p.Length;
        for (int i = 0; i < p.Length; i++) g[i] = (p[i] - t[i]) * scale;
        return _grad;
    }
}
