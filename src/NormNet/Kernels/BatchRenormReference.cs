namespace NormNet.Kernels;

/// <summary>
/// Algorithm 1 of Ioffe (2017), "Batch Renormalization", in plain double precision, step by step as printed: the
/// definition <see cref="Layers.BatchRenormBase"/> is tested against. Layout (N, C, S) as <see cref="BatchNormShape"/>.
/// </summary>
public static class BatchRenormReference
{
    // x, y: (N, C, S); gamma, beta: (C); mu, sigma: (C) moving averages, updated in place; r, d: (C), written.
    /// <summary>Training forward and moving-average update:
    /// mu_B = mean(x); sigma_B = sqrt(mean((x - mu_B)^2) + eps); r = clip(sigma_B / sigma, 1/rMax, rMax);
    /// d = clip((mu_B - mu) / sigma, -dMax, dMax); xhat = (x - mu_B) / sigma_B * r + d; y = gamma * xhat + beta;
    /// mu += alpha * (mu_B - mu); sigma += alpha * (sigma_B - sigma).</summary>
    public static void TrainingForward(ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, ReadOnlySpan<double> beta, BatchNormShape shape,
        double eps, double rMax, double dMax, double alpha, Span<double> mu, Span<double> sigma, Span<double> y, Span<double> r, Span<double> d,
        Span<double> muB, Span<double> sigmaB)
    {
        var (n, c, s) = (shape.Outer, shape.Channels, shape.Inner);
        double m = shape.PerChannel;
        for (int j = 0; j < c; j++)
        {
            double sum = 0, sq = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++) sum += x[(i * c + j) * s + k];
            muB[j] = sum / m;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++) sq += Math.Pow(x[(i * c + j) * s + k] - muB[j], 2);
            sigmaB[j] = Math.Sqrt(sq / m + eps);
            r[j] = Math.Clamp(sigmaB[j] / sigma[j], 1 / rMax, rMax);
            d[j] = Math.Clamp((muB[j] - mu[j]) / sigma[j], -dMax, dMax);
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + j) * s + k;
                    double xhat = (x[o] - muB[j]) / sigmaB[j] * r[j] + d[j];
                    y[o] = gamma[j] * xhat + beta[j];
                }
            mu[j] += alpha * (muB[j] - mu[j]);
            sigma[j] += alpha * (sigmaB[j] - sigma[j]);
        }
    }

    // dy, x, dx: (N, C, S); gamma, r, d, muB, sigmaB: (C) from TrainingForward; dgamma, dbeta: (C) accumulated.
    /// <summary>Backward with r and d treated as constants (the paper's stop_gradient): with xhatB = (x - mu_B) / sigma_B,
    /// dxhat = dy * gamma; dx = r / sigma_B * (dxhat - mean(dxhat) - xhatB * mean(dxhat * xhatB));
    /// dgamma += sum(dy * (xhatB * r + d)); dbeta += sum(dy).</summary>
    public static void TrainingBackward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, ReadOnlySpan<double> r,
        ReadOnlySpan<double> d, ReadOnlySpan<double> muB, ReadOnlySpan<double> sigmaB, BatchNormShape shape,
        Span<double> dx, Span<double> dgamma, Span<double> dbeta)
    {
        var (n, c, s) = (shape.Outer, shape.Channels, shape.Inner);
        double m = shape.PerChannel;
        for (int j = 0; j < c; j++)
        {
            double sumDxhat = 0, sumDxhatXhatB = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + j) * s + k;
                    double xhatB = (x[o] - muB[j]) / sigmaB[j];
                    sumDxhat += dy[o] * gamma[j];
                    sumDxhatXhatB += dy[o] * gamma[j] * xhatB;
                    dgamma[j] += dy[o] * (xhatB * r[j] + d[j]);
                    dbeta[j] += dy[o];
                }
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + j) * s + k;
                    double xhatB = (x[o] - muB[j]) / sigmaB[j];
                    dx[o] = r[j] / sigmaB[j] * (dy[o] * gamma[j] - sumDxhat / m - xhatB * sumDxhatXhatB / m);
                }
        }
    }

    /// <summary>Inference: y = gamma * (x - mu) / sigma + beta.</summary>
    public static void InferenceForward(ReadOnlySpan<double> x, ReadOnlySpan<double> gamma, ReadOnlySpan<double> beta,
        ReadOnlySpan<double> mu, ReadOnlySpan<double> sigma, BatchNormShape shape, Span<double> y)
    {
        var (n, c, s) = (shape.Outer, shape.Channels, shape.Inner);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + j) * s + k;
                    y[o] = gamma[j] * (x[o] - mu[j]) / sigma[j] + beta[j];
                }
    }
}
