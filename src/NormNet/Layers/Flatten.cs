namespace NormNet.Layers;

/// <summary>Flattens (N, d1, d2, ...) to (N, d1*d2*...), as <c>torch.nn.Flatten</c>; a view, no copy.</summary>
public sealed class Flatten : Module
{
    private Tensor? _input, _view, _gradView, _gradSource;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 1) throw new ArgumentException($"Flatten expected at least 1 dimension, got {input.ShapeString}.", nameof(input));
        if (!ReferenceEquals(input, _input))
        {
            _view = input.Reshape(input.Dim(0), input.Rank == 1 ? 1 : input.Length / Math.Max(1, input.Dim(0)));
            _input = input;
        }
        return _view!;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _view);
        if (!ReferenceEquals(gradOutput, _gradSource))
        {
            _gradView = gradOutput.Reshape(_input!.Shape);
            _gradSource = gradOutput;
        }
        return _gradView!;
    }
}
