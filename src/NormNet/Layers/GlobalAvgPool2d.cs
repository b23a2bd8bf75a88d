using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>Averages each channel over its whole plane: (N, C, H, W) to (N, C). Equivalent to PyTorch's
/// <c>nn.AdaptiveAvgPool2d(1)</c> followed by <c>nn.Flatten()</c>.</summary>
public sealed class GlobalAvgPool2d : Module
{
    private Tensor? _input, _output, _gradInput;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 4)
            throw new ArgumentException($"GlobalAvgPool2d expected 4D (N, C, H, W) input, got {input.ShapeString}.", nameof(input));
        int n = input.Dim(0), c = input.Dim(1), plane = input.Dim(2) * input.Dim(3);
        var output = Reuse(ref _output, [n, c]);
        // y[n, c] = mean over the plane (double accumulation)
        Pooling.GlobalAvgForward(input.ReadOnlySpan, n * c, plane, output.Span);
        _input = input;
        return output;
    }

    /// <inheritdoc />
    public override Tensor Backward(Tensor gradOutput)
    {
        CheckGradient(gradOutput, _input is null ? null : _output);
        var gradInput = Reuse(ref _gradInput, _input!.Dims);
        int plane = _input.Dim(2) * _input.Dim(3);
        // dx[n, c, :] = dy[n, c] / plane
        Pooling.GlobalAvgBackward(gradOutput.ReadOnlySpan, gradOutput.Length, plane, gradInput.Span);
        return gradInput;
    }
}
