namespace NormNet.Kernels;

/// <summary>Small reductions shared by layers (bias gradients), accumulated in double in a fixed order.</summary>
public static class Reductions
{
    // x: (rows, cols); sums: (cols), accumulated
    /// <summary>sums[j] += sum_i x[i, j].</summary>
    public static void AddColumnSums(ReadOnlySpan<float> x, int rows, int cols, Span<float> sums)
    {
        if (x.Length != rows * cols || sums.Length != cols)
            throw new ArgumentException($"AddColumnSums: x has {x.Length} elements for ({rows}, {cols}); sums has {sums.Length}.");
        double[]? rented = cols <= 1024 ? null : System.Buffers.ArrayPool<double>.Shared.Rent(cols);
        Span<double> acc = rented is null ? stackalloc double[cols] : rented.AsSpan(0, cols);
        acc.Clear();
        for (int i = 0; i < rows; i++)
        {
            var row = x.Slice(i * cols, cols);
            for (int j = 0; j < cols; j++) acc[j] += row[j];
        }
        for (int j = 0; j < cols; j++) sums[j] += (float)acc[j];
        if (rented is not null) System.Buffers.ArrayPool<double>.Shared.Return(rented);
    }

    // x: (n, c, s); sums: (c), accumulated
    /// <summary>sums[j] += sum over n and s of x[n, j, s] (a convolution's bias gradient).</summary>
    public static void AddChannelSums(ReadOnlySpan<float> x, int n, int c, int s, Span<float> sums)
    {
        if (x.Length != n * c * s || sums.Length != c)
            throw new ArgumentException($"AddChannelSums: x has {x.Length} elements for ({n}, {c}, {s}); sums has {sums.Length}.");
        for (int j = 0; j < c; j++)
        {
            double acc = 0;
            for (int i = 0; i < n; i++)
            {
                var plane = x.Slice((i * c + j) * s, s);
                float partial = 0;
                foreach (float v in plane) partial += v;
                acc += partial;
            }
            sums[j] += (float)acc;
        }
    }
}
