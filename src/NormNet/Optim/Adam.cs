using NormNet.Kernels;
using NormNet.Layers;

namespace NormNet.Optim;

/// <summary>Adam (Kingma and Ba), as <c>torch.optim.Adam</c> (L2 weight decay added to the gradient), or AdamW
/// (Loshchilov and Hutter; decoupled weight decay) when <c>decoupledWeightDecay</c> is true.</summary>
public class Adam : Optimizer
{
    private readonly Tensor[] _expAvg, _expAvgSq;
    private readonly bool _decoupled;

    /// <summary>Creates the optimizer; defaults as <c>torch.optim.Adam</c>.</summary>
    public Adam(IEnumerable<(string Name, Parameter Parameter)> parameters, double learningRate = 1e-3, double beta1 = 0.9,
        double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : this(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: false)
    {
    }

    /// <summary>Creates Adam or AdamW.</summary>
    protected Adam(IEnumerable<(string Name, Parameter Parameter)> parameters, double learningRate, double beta1,
        double beta2, double eps, double weightDecay, bool decoupled)
        : base(parameters, learningRate, weightDecay)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be non-negative.");
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        _decoupled = decoupled;
        _expAvg = Parameters.Select(p => Tensor.Zeros(p.Parameter.Value.Shape)).ToArray();
        _expAvgSq = Parameters.Select(p => Tensor.Zeros(p.Parameter.Value.Shape)).ToArray();
    }

    /// <summary>Decay of the first moment.</summary>
    public double Beta1 { get; }

    /// <summary>Decay of the second moment.</summary>
    public double Beta2 { get; }

    /// <summary>Added to the denominator.</summary>
    public double Eps { get; }

    /// <inheritdoc />
    protected override void Update(int index, Parameter parameter, float weightDecay) =>
        OptimizerKernels.Adam(parameter.Value.Span, parameter.Grad.ReadOnlySpan, _expAvg[index].Span, _expAvgSq[index].Span,
            (float)LearningRate, (float)Beta1, (float)Beta2, (float)Eps, weightDecay, _decoupled, StepCount);

    /// <inheritdoc />
    public override IEnumerable<(string Name, Tensor State)> StateTensors()
    {
        for (int i = 0; i < _expAvg.Length; i++)
        {
            yield return ($"{Parameters[i].Name}.exp_avg", _expAvg[i]);
            yield return ($"{Parameters[i].Name}.exp_avg_sq", _expAvgSq[i]);
        }
    }
}

/// <summary>AdamW: Adam with decoupled weight decay (p *= 1 - lr * wd before the Adam step), as <c>torch.optim.AdamW</c>.</summary>
public sealed class AdamW(IEnumerable<(string Name, Parameter Parameter)> parameters, double learningRate = 1e-3, double beta1 = 0.9,
    double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2)
    : Adam(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: true);
