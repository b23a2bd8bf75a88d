using NormNet.Kernels;
using NormNet.Layers;

namespace NormNet.Optim;

/// <summary>Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight decay,
/// as <c>torch.optim.SGD</c>.</summary>
public sealed class Sgd : Optimizer
{
    private readonly Tensor[] _momentum;

    /// <summary>Creates the optimizer; arguments and defaults as <c>torch.optim.SGD</c>.</summary>
    public Sgd(IEnumerable<(string Name, Parameter Parameter)> parameters, double learningRate, double momentum = 0,
        double dampening = 0, double weightDecay = 0, bool nesterov = false)
        : base(parameters, learningRate, weightDecay)
    {
        if (!(momentum >= 0)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be non-negative.");
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException("Nesterov momentum requires a momentum and zero dampening.");
        Momentum = momentum;
        Dampening = dampening;
        Nesterov = nesterov;
        _momentum = momentum == 0 ? [] : Parameters.Select(p => Tensor.Zeros(p.Parameter.Value.Shape)).ToArray();
    }

    /// <summary>The momentum factor.</summary>
    public double Momentum { get; }

    /// <summary>Dampening of the momentum.</summary>
    public double Dampening { get; }

    /// <summary>Whether Nesterov momentum is used.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc />
    protected override void Update(int index, Parameter parameter, float weightDecay) =>
        OptimizerKernels.Sgd(parameter.Value.Span, parameter.Grad.ReadOnlySpan, Momentum == 0 ? default : _momentum[index].Span,
            (float)LearningRate, (float)Momentum, (float)Dampening, weightDecay, Nesterov, first: StepCount == 1);

    /// <inheritdoc />
    public override IEnumerable<(string Name, Tensor State)> StateTensors()
    {
        for (int i = 0; i < _momentum.Length; i++) yield return ($"{Parameters[i].Name}.momentum_buffer", _momentum[i]);
    }
}
