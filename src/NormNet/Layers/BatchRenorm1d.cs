using NormNet.Kernels;

namespace NormNet.Layers;

/// <summary>Batch renormalization over (N, C) or (N, C, L) input; see <see cref="BatchRenormBase"/>.</summary>
public sealed class BatchRenorm1d(int numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = true,
    double rMax = 3, double dMax = 5, BatchRenormSchedule? schedule = null)
    : BatchRenormBase(numFeatures, eps, momentum, affine, rMax, dMax, schedule)
{
    /// <inheritdoc />
    protected override BatchNormShape ViewOf(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank is not (2 or 3) || input.Dim(1) != NumFeatures || input.Length == 0)
            throw new ArgumentException($"BatchRenorm1d({NumFeatures}) expected non-empty 2D (N, {NumFeatures}) or 3D (N, {NumFeatures}, L) input, got shape {input.ShapeString}.", nameof(input));
        return new BatchNormShape(input.Dim(0), NumFeatures, input.Rank == 3 ? input.Dim(2) : 1);
    }
}
