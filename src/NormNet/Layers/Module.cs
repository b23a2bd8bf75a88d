namespace NormNet.Layers;

/// <summary>
/// A layer or network, as <c>torch.nn.Module</c>, with an explicit backward pass.
/// </summary>
/// <remarks>
/// <para><see cref="Forward"/> keeps what <see cref="Backward"/> needs (usually a reference to its input);
/// <see cref="Backward"/> returns the gradient with respect to that input and adds the parameter gradients
/// into each <see cref="Parameter.Grad"/>.</para>
/// <para>Returned tensors belong to the module and are overwritten by its next call, so a steady-state
/// training step allocates nothing; <see cref="Tensor.Clone"/> what you want to keep. Do not change an
/// input tensor between a module's forward and backward.</para>
/// <para>Parameter and buffer names follow PyTorch's <c>state_dict</c>: a child's entries are prefixed by the
/// child's name and a dot (<c>0.weight</c>, <c>1.running_mean</c>).</para>
/// </remarks>
public abstract class Module
{
    /// <summary>Whether the module is in training mode (the default) rather than evaluation mode.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Whether <see cref="Backward"/> must compute the gradient with respect to the input (default true).
    /// A network's first layer does not need it when its input is data: <see cref="Training.Trainer"/> sets this to
    /// false on the model, which passes it to its first layer, and a Linear or Conv2d then skips that product and
    /// returns zeros from <see cref="Backward"/> (parameter gradients are still computed), as PyTorch does for an
    /// input that does not require grad.</summary>
    public virtual bool RequiresInputGradient { get; set; } = true;

    /// <summary>Computes the output and remembers what the backward pass needs.</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>Returns the gradient with respect to the last forward's input and accumulates parameter gradients.</summary>
    public abstract Tensor Backward(Tensor gradOutput);

    /// <summary>Sets training mode (true) or evaluation mode (false) on this module and all children.</summary>
    public Module Train(bool mode = true)
    {
        Training = mode;
        foreach (var (_, child) in Children()) child.Train(mode);
        return this;
    }

    /// <summary>Sets evaluation mode: batch norm uses its running statistics, dropout passes values through.</summary>
    public Module Eval() => Train(false);

    /// <summary>The direct children, with their names.</summary>
    public virtual IEnumerable<(string Name, Module Module)> Children() => [];

    /// <summary>This module's own parameters, not its children's.</summary>
    protected virtual IEnumerable<(string Name, Parameter Parameter)> OwnParameters() => [];

    /// <summary>This module's own buffers, not its children's.</summary>
    protected virtual IEnumerable<(string Name, Buffer Buffer)> OwnBuffers() => [];

    /// <summary>This module's own random generators (e.g. dropout's), saved in training checkpoints.</summary>
    protected virtual IEnumerable<(string Name, Rng Generator)> OwnGenerators() => [];

    /// <summary>All random generators in the tree with dotted names, for training checkpoints.</summary>
    public IEnumerable<(string Name, Rng Generator)> NamedGenerators()
    {
        foreach (var entry in OwnGenerators()) yield return entry;
        foreach (var (name, child) in Children())
            foreach (var (n, g) in child.NamedGenerators()) yield return ($"{name}.{n}", g);
    }

    /// <summary>Every parameter and buffer in PyTorch's <c>state_dict</c> order: for each module (this one first,
    /// then children depth first), its parameters, then its buffers. Float32 entries come as a tensor, the
    /// int64 scalars (<c>num_batches_tracked</c>) as an <see cref="Int64Buffer"/>; exactly one is set.</summary>
    public IEnumerable<(string Name, Tensor? Tensor, Int64Buffer? Scalar)> StateEntries()
    {
        foreach (var (name, p) in OwnParameters()) yield return (name, p.Value, null);
        foreach (var (name, b) in OwnBuffers())
            yield return b switch
            {
                TensorBuffer t => (name, t.Value, null),
                Int64Buffer i => (name, null, i),
                _ => throw new InvalidOperationException($"Unknown buffer type {b.GetType().Name} for '{name}'."),
            };
        foreach (var (childName, child) in Children())
            foreach (var (n, t, i) in child.StateEntries()) yield return ($"{childName}.{n}", t, i);
    }

    /// <summary>All parameters with their state-dict names, depth first in registration order.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        foreach (var entry in OwnParameters()) yield return entry;
        foreach (var (name, child) in Children())
            foreach (var (n, p) in child.NamedParameters()) yield return ($"{name}.{n}", p);
    }

    /// <summary>All buffers with their state-dict names.</summary>
    public IEnumerable<(string Name, Buffer Buffer)> NamedBuffers()
    {
        foreach (var entry in OwnBuffers()) yield return entry;
        foreach (var (name, child) in Children())
            foreach (var (n, b) in child.NamedBuffers()) yield return ($"{name}.{n}", b);
    }

    /// <summary>All modules in the tree, this one first, with their dotted names ("" for this one).</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules()
    {
        yield return ("", this);
        foreach (var (name, child) in Children())
            foreach (var (n, m) in child.NamedModules()) yield return (n.Length == 0 ? name : $"{name}.{n}", m);
    }

    /// <summary>All parameters.</summary>
    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Sets every parameter's gradient to zero.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>A zero tensor of <paramref name="shape"/>, kept in <paramref name="buffer"/> (zeroed only when (re)allocated):
    /// what a layer returns from Backward when <see cref="RequiresInputGradient"/> is false.</summary>
    protected static Tensor Zeros(ref Tensor? buffer, ReadOnlySpan<int> shape)
    {
        if (buffer is null || !buffer.HasShape(shape)) buffer = Tensor.Zeros(shape.ToArray());
        return buffer;
    }

    /// <summary>Returns <paramref name="buffer"/> if it has <paramref name="shape"/>, else a new tensor of that shape stored in it.</summary>
    protected static Tensor Reuse(ref Tensor? buffer, ReadOnlySpan<int> shape)
    {
        buffer = Tensor.Reuse(buffer, shape); // one storage per buffer, reused across batch sizes
        return buffer;
    }

    /// <summary>Throws when <paramref name="gradOutput"/> does not match the last forward's output.</summary>
    protected void CheckGradient(Tensor gradOutput, Tensor? output)
    {
        ArgumentNullException.ThrowIfNull(gradOutput);
        if (output is null)
            throw new InvalidOperationException($"{GetType().Name}.Backward called before Forward.");
        if (!gradOutput.SameShape(output))
            throw new ArgumentException(
                $"{GetType().Name}.Backward: gradient shape {gradOutput.ShapeString} differs from the forward output shape {output.ShapeString}.",
                nameof(gradOutput));
    }
}
