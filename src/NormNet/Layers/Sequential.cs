namespace NormNet.Layers;

/// <summary>Modules applied in order, as <c>torch.nn.Sequential</c>; children are named "0", "1", ...</summary>
public sealed class Sequential : Module
{
    private readonly List<Module> _modules;

    /// <summary>Creates the container.</summary>
    public Sequential(params Module[] modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var m in modules) ArgumentNullException.ThrowIfNull(m, nameof(modules));
        _modules = [.. modules];
    }

    /// <inheritdoc />
    /// <remarks>Passed on to the first module, the only one that sees this container's input.</remarks>
    public override bool RequiresInputGradient
    {
        get => base.RequiresInputGradient;
        set
        {
            base.RequiresInputGradient = value;
            if (_modules.Count > 0) _modules[0].RequiresInputGradient = value;
        }
    }

    /// <summary>The number of modules.</summary>
    public int Count => _modules.Count;

    /// <summary>The module at <paramref name="index"/>.</summary>
    public Module this[int index] => _modules[index];

    /// <summary>Appends a module (in the current mode of this container).</summary>
    public Sequential Add(Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        module.Train(Training);
        if (_modules.Count == 0) module.RequiresInputGradient = RequiresInputGradient;
        _modules.Add(module);
        return this;
    }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        foreach (var m in _modules) x = m.Forward(x);
        return x;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        var g = gradOutput;
        for (int i = _modules.Count - 1; i >= 0; i--) g = _modules[i].Backward(g);
        return g;
    }

    /// <inheritdoc />
    public override IEnumerable<(string Name, Module Module)> Children()
    {
        for (int i = 0; i < _modules.Count; i++) yield return (i.ToString(System.Globalization.CultureInfo.InvariantCulture), _modules[i]);
    }
}
