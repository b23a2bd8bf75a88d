using NormNet.Layers;

namespace NormNet.Optim;

/// <summary>Base of the optimizers: a list of named parameters, a learning rate, and per-parameter state that
/// training checkpoints save and restore.</summary>
/// <remarks>Gradients are zeroed explicitly (<see cref="ZeroGrad"/>), as in PyTorch. Weight decay can skip
/// normalization and bias parameters (<see cref="ExcludeNormAndBiasFromWeightDecay"/>), the usual practice
/// for networks with batch normalization.</remarks>
public abstract class Optimizer
{
    private readonly (string Name, Parameter Parameter)[] _parameters;

    /// <summary>Creates the optimizer over <paramref name="parameters"/> (e.g. <c>model.NamedParameters()</c>).</summary>
    protected Optimizer(IEnumerable<(string Name, Parameter Parameter)> parameters, double learningRate, double weightDecay)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters.ToArray();
        if (_parameters.Length == 0) throw new ArgumentException("The optimizer got no parameters.", nameof(parameters));
        if (!(learningRate >= 0)) throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learning rate must be non-negative.");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "weight decay must be non-negative.");
        LearningRate = learningRate;
        WeightDecay = weightDecay;
    }

    /// <summary>The learning rate of the next step (schedules set it before each step).</summary>
    public double LearningRate { get; set; }

    /// <summary>The weight-decay coefficient.</summary>
    public double WeightDecay { get; }

    /// <summary>When true, parameters whose role is a bias or a normalization scale/shift get no weight decay.</summary>
    public bool ExcludeNormAndBiasFromWeightDecay { get; init; }

    /// <summary>Steps taken so far.</summary>
    public long StepCount { get; set; }

    /// <summary>The parameters with their names.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> Parameters => _parameters;

    /// <summary>Updates every parameter from its gradient.</summary>
    public void Step()
    {
        StepCount++;
        for (int i = 0; i < _parameters.Length; i++)
        {
            var p = _parameters[i].Parameter;
            double decay = ExcludeNormAndBiasFromWeightDecay && p.Role != ParameterRole.Weight ? 0 : WeightDecay;
            Update(i, p, (float)decay);
        }
    }

    /// <summary>Sets every parameter's gradient to zero.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in _parameters) p.ZeroGrad();
    }

    /// <summary>Updates parameter <paramref name="index"/> with the given weight decay.</summary>
    protected abstract void Update(int index, Parameter parameter, float weightDecay);

    /// <summary>Per-parameter state tensors with PyTorch-like names ("&lt;param&gt;.momentum_buffer", ".exp_avg", ...).</summary>
    public abstract IEnumerable<(string Name, Tensor State)> StateTensors();
}
