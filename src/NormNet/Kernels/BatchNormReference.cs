namespace NormNet.Kernels;

/// <summary>
/// Plain double-precision batch normalization, written for clarity: the definition the fast kernels in
/// <see cref="BatchNorm"/> are tested against, and the function the gradient checks differentiate.
/// Same layouts and argument order as <see cref="BatchNorm"/>; gamma/beta/dgamma/dbeta may be empty.
/// </summary>
public static class BatchNormReference
{
    // x, y: (N, C, S); mean, invstd, variance: (C)
    /// <summary>Training forward with biased batch variance.</summary>
    public static void TrainingForward(ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, ReadOnlySpan<double> beta,
        BatchNormShape shape, double eps, Span<double> y, Span<double> mean, Span<double> invstd, Span<double> variance)
    {
        var (n, c, s) = (shape.Outer, shape.Channels, shape.Inner);
        double count = shape.PerChannel;
        for (int j = 0; j < c; j++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++) sum += x[(i * c + j) * s + k];
            double m = sum / count;
            double sq = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    double d = x[(i * c + j) * s + k] - m;
                    sq += d * d;
                }
            double v = sq / count, inv = 1.0 / Math.Sqrt(v + eps);
            mean[j] = m;
            variance[j] = v;
            invstd[j] = inv;
            double g = gamma.IsEmpty ? 1 : gamma[j], b = beta.IsEmpty ? 0 : beta[j];
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + j) * s + k;
                    y[o] = (x[o] - m) * inv * g + b;
                }
        }
    }

    // dy, x, dx: (N, C, S); dgamma, dbeta accumulated
    /// <summary>Training backward: the gradient of <see cref="TrainingForward"/> through the batch statistics.</summary>
    public static void TrainingBackward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, ReadOnlySpan<double> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, BatchNormShape shape,
        Span<double> dx, Span<double> dgamma, Span<double> dbeta)
    {
        var (n, c, s) = (shape.Outer, shape.Channels, shape.Inner);
        double count = shape.PerChannel;
        for (int j = 0; j < c; j++)
        {
            double sumDy = 0, sumDyXhat = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + j) * s + k;
                    sumDy += dy[o];
                    sumDyXhat += dy[o] * (x[o] - mean[j]) * invstd[j];
                }
            if (!dgamma.IsEmpty) dgamma[j] += sumDyXhat;
            if (!dbeta.IsEmpty) dbeta[j] += sumDy;
            double g = gamma.IsEmpty ? 1 : gamma[j];
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + j) * s + k;
                    double xhat = (x[o] - mean[j]) * invstd[j];
                    // dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
                    dx[o] = g * invstd[j] * (dy[o] - sumDy / count - xhat * sumDyXhat / count);
                }
        }
    }

    /// <summary>Eval forward: y = (x - runningMean) / sqrt(runningVar + eps) * gamma + beta.</summary>
    public static void InferenceForward(ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, ReadOnlySpan<double> beta,
        ReadOnlySpan<double> runningMean, ReadOnlySpan<double> runningVar, BatchNormShape shape, double eps, Span<double> y)
    {
        var (n, c, s) = (shape.Outer, shape.Channels, shape.Inner);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + j) * s + k;
                    double g = gamma.IsEmpty ? 1 : gamma[j], b = beta.IsEmpty ? 0 : beta[j];
                    y[o] = (x[o] - runningMean[j]) / Math.Sqrt(runningVar[j] + eps) * g + b;
                }
    }

    /// <summary>Eval backward: statistics are constants, so dx = dy * gamma / sqrt(runningVar + eps).</summary>
    public static void InferenceBackward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, ReadOnlySpan<double> gamma,
        ReadOnlySpan<double> runningMean, ReadOnlySpan<double> runningVar, BatchNormShape shape, double eps,
        Span<double> dx, Span<double> dgamma, Span<double> dbeta)
    {
        var (n, c, s) = (shape.Outer, shape.Channels, shape.Inner);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + j) * s + k;
                    double inv = 1.0 / Math.Sqrt(runningVar[j] + eps), g = gamma.IsEmpty ? 1 : gamma[j];
                    dx[o] = dy[o] * g * inv;
                    if (!dgamma.IsEmpty) dgamma[j] += dy[o] * (x[o] - runningMean[j]) * inv;
                    if (!dbeta.IsEmpty) dbeta[j] += dy[o];
                }
    }
}
