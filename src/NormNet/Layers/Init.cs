namespace NormNet.Layers;

/// <summary>Weight initializations, as <c>torch.nn.init</c>. Every function draws from the given generator in
/// row-major order, so equal seeds give equal weights.</summary>
public static class Init
{
    /// <summary>Uniform values in [low, high).</summary>
    public static void Uniform(Tensor tensor, double low, double high, Rng rng)
    {
        var span = tensor.Span;
        for (int i = 0; i < span.Length; i++) span[i] = (float)(low + (high - low) * rng.NextDouble());
    }

    /// <summary>Normal values with the given mean and standard deviation (the paper's "small random Gaussian values").</summary>
    public static void Normal(Tensor tensor, double mean, double std, Rng rng)
    {
        var span = tensor.Span;
        for (int i = 0; i < span.Length; i++) span[i] = (float)(mean + std * rng.NextNormal());
    }

    /// <summary>Kaiming (He) uniform: U(-b, b) with b = gain * sqrt(3 / fanIn) and gain = sqrt(2 / (1 + a^2)).
    /// PyTorch's default for Linear and Conv2d weights uses a = sqrt(5), which gives b = 1 / sqrt(fanIn).</summary>
    public static void KaimingUniform(Tensor tensor, int fanIn, Rng rng, double a = 2.2360679774997896964)
    {
        double gain = Math.Sqrt(2.0 / (1 + a * a));
        double bound = gain * Math.Sqrt(3.0 / fanIn);
        Uniform(tensor, -bound, bound, rng);
    }

    /// <summary>Kaiming (He) normal for ReLU networks: N(0, 2 / fanIn).</summary>
    public static void KaimingNormal(Tensor tensor, int fanIn, Rng rng) => Normal(tensor, 0, Math.Sqrt(2.0 / fanIn), rng);

    /// <summary>Sets every element to <paramref name="value"/>.</summary>
    public static void Constant(Tensor tensor, float value) => tensor.Span.Fill(value);

    /// <summary>PyTorch's default bias initialization for Linear/Conv2d: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).</summary>
    public static void DefaultBias(Tensor bias, int fanIn, Rng rng)
    {
        double bound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
        Uniform(bias, -bound, bound, rng);
    }
}
