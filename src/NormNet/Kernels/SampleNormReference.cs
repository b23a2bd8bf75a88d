namespace NormNet.Kernels;

/// <summary>
/// Plain double-precision per-sample normalization (GroupNorm, LayerNorm, InstanceNorm), written for clarity: the
/// definition the fast kernels in <see cref="SampleNorm"/> are tested against, and the function the gradient checks
/// differentiate. Same layout and argument order as <see cref="SampleNorm"/>; gamma/beta/dgamma/dbeta may be empty.
/// </summary>
public static class SampleNormReference
{
    // x, y: (N, G, K, S); gamma, beta: (G * K) or empty; mean, invstd, variance (biased): (N * G), written.
    /// <summary>Forward: per row (n, g) the mean and biased variance over its K * S values, then
    /// y = (x - mean) * invstd * gamma[g * K + k] + beta[g * K + k].</summary>
    public static void Forward(ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, ReadOnlySpan<double> beta,
        SampleNormShape shape, double eps, Span<double> y, Span<double> mean, Span<double> invstd, Span<double> variance)
    {
        int k = shape.ChannelsPerGroup, s = shape.Inner, length = (int)shape.RowLength;
        for (int r = 0; r < shape.Rows; r++)
        {
            int start = r * length, g = r % shape.Groups;
            double sum = 0;
            for (int i = 0; i < length; i++) sum += x[start + i];
            double m = sum / length, sq = 0;
            for (int i = 0; i < length; i++) sq += (x[start + i] - m) * (x[start + i] - m);
            double v = sq / length, inv = 1.0 / Math.Sqrt(v + eps);
            mean[r] = m;
            variance[r] = v;
            invstd[r] = inv;
            for (int i = 0; i < length; i++)
            {
                int c = g * k + i / s;
                y[start + i] = (x[start + i] - m) * inv * (gamma.IsEmpty ? 1 : gamma[c]) + (beta.IsEmpty ? 0 : beta[c]);
            }
        }
    }

    // dy, x, dx: (N, G, K, S); gamma: (G * K) or empty; mean, invstd: (N * G) from Forward; dgamma, dbeta: (G * K) accumulated, or empty.
    /// <summary>Backward through the per-row statistics: with xhat = (x - mean) * invstd and dxhat = dy * gamma,
    /// dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) over the row; dgamma += sum(dy * xhat);
    /// dbeta += sum(dy), summed over every row and position of the channel.</summary>
    public static void Backward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, ReadOnlySpan<double> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, SampleNormShape shape,
        Span<double> dx, Span<double> dgamma, Span<double> dbeta)
    {
        int k = shape.ChannelsPerGroup, s = shape.Inner, length = (int)shape.RowLength;
        for (int r = 0; r < shape.Rows; r++)
        {
            int start = r * length, g = r % shape.Groups;
            double sumDxhat = 0, sumDxhatXhat = 0;
            for (int i = 0; i < length; i++)
            {
                int o = start + i, c = g * k + i / s;
                double xhat = (x[o] - mean[r]) * invstd[r], dxhat = dy[o] * (gamma.IsEmpty ? 1 : gamma[c]);
                sumDxhat += dxhat;
                sumDxhatXhat += dxhat * xhat;
                if (!dgamma.IsEmpty) dgamma[c] += dy[o] * xhat;
                if (!dbeta.IsEmpty) dbeta[c] += dy[o];
            }
            for (int i = 0; i < length; i++)
            {
                int o = start + i, c = g * k + i / s;
                double xhat = (x[o] - mean[r]) * invstd[r], dxhat = dy[o] * (gamma.IsEmpty ? 1 : gamma[c]);
                dx[o] = invstd[r] * (dxhat - sumDxhat / length - xhat * sumDxhatXhat / length);
            }
        }
    }
}
