namespace NormNet.Layers;

/// <summary>
/// A ramp for batch renormalization's clipping limits over training steps, as in Ioffe (2017), section 4:
/// rMax = 1 and dMax = 0 (plain batch norm) for the first <see cref="WarmupSteps"/> steps, then each limit grows
/// linearly to its final value, reached at step <see cref="RMaxFullAt"/> (rMax) and <see cref="DMaxFullAt"/> (dMax).
/// </summary>
/// <remarks>The paper says "gradually relaxed" without a shape; linear is this class's choice. A step is one
/// training forward of the layer (its <c>num_batches_tracked</c> before the forward).</remarks>
/// <param name="WarmupSteps">Steps of plain batch norm before the ramps start.</param>
/// <param name="RMax">The final rMax (at least 1).</param>
/// <param name="RMaxFullAt">The step at which rMax reaches <paramref name="RMax"/>.</param>
/// <param name="DMax">The final dMax (at least 0).</param>
/// <param name="DMaxFullAt">The step at which dMax reaches <paramref name="DMax"/>.</param>
public sealed record BatchRenormSchedule(long WarmupSteps, double RMax, long RMaxFullAt, double DMax, long DMaxFullAt)
{
    /// <summary>The paper's ImageNet schedule: plain BN for 5k steps, rMax 3 at 40k steps, dMax 5 at 25k steps.</summary>
    public static BatchRenormSchedule Paper { get; } = new(5000, 3, 40000, 5, 25000);

    /// <summary>(rMax, dMax) at training step <paramref name="step"/> (0-based).</summary>
    public (double RMax, double DMax) At(long step)
    {
        if (!(RMax >= 1) || !(DMax >= 0) || WarmupSteps < 0 || RMaxFullAt < WarmupSteps || DMaxFullAt < WarmupSteps)
            throw new InvalidOperationException($"Invalid batch renorm schedule {this}: need RMax >= 1, DMax >= 0 and 0 <= WarmupSteps <= the full-at steps.");
        return (1 + (RMax - 1) * Progress(step, RMaxFullAt), DMax * Progress(step, DMaxFullAt));
    }

    private double Progress(long step, long fullAt) =>
        step <= WarmupSteps ? 0 : step >= fullAt ? 1 : (double)(step - WarmupSteps) / (fullAt - WarmupSteps);
}
