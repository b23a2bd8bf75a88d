using NormNet.Layers;

namespace NormNet.Cli.Experiments;

/// <summary>An identity layer that keeps a reference to what flows through it, so experiments can look at the
/// input of a nonlinearity (the tensor stays valid until the model's next forward).</summary>
internal sealed class Probe : Module
{
    public Tensor? Last { get; private set; }

    public override Tensor Forward(Tensor input) => Last = input;

    public override Tensor Backward(Tensor gradOutput) => gradOutput;

    /// <summary>A copy of <paramref name="model"/>'s children with a probe inserted before every sigmoid (same layer objects).</summary>
    public static (Sequential Model, List<Probe> Probes) BeforeSigmoids(Sequential model)
    {
        var layers = new List<Module>();
        var probes = new List<Probe>();
        for (int i = 0; i < model.Count; i++)
        {
            if (model[i] is Sigmoid)
            {
                var p = new Probe();
                probes.Add(p);
                layers.Add(p);
            }
            layers.Add(model[i]);
        }
        return (new Sequential([.. layers]), probes);
    }
}
