namespace NormNet.Kernels;

/// <summary>
/// Plain double-precision forward and backward passes of every layer and loss, written for clarity: the
/// definitions the fast float layers are tested against and the functions the gradient checks differentiate.
/// Parameter gradients are accumulated (+=); input gradients overwritten.
/// </summary>
public static class LayerReference
{
    // x: (N, in); w: (out, in); b: (out) or empty; y: (N, out)
    /// <summary>y = x W^T + b.</summary>
    public static void LinearForward(ReadOnlySpan<double> x, ReadOnlySpan<double> w, ReadOnlySpan<double> b, int n, int inF, int outF, Span<double> y)
    {
        for (int i = 0; i < n; i++)
            for (int o = 0; o < outF; o++)
            {
                double s = b.IsEmpty ? 0 : b[o];
                for (int k = 0; k < inF; k++) s += x[i * inF + k] * w[o * inF + k];
                y[i * outF + o] = s;
            }
    }

    /// <summary>dx = dy W; dW += dy^T x; db += column sums of dy.</summary>
    public static void LinearBackward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, ReadOnlySpan<double> w, int n, int inF, int outF,
        Span<double> dx, Span<double> dw, Span<double> db)
    {
        dx.Clear();
        for (int i = 0; i < n; i++)
            for (int o = 0; o < outF; o++)
            {
                double g = dy[i * outF + o];
                if (!db.IsEmpty) db[o] += g;
                for (int k = 0; k < inF; k++)
                {
                    dx[i * inF + k] += g * w[o * inF + k];
                    dw[o * inF + k] += g * x[i * inF + k];
                }
            }
    }

    // x: (N, C, H, W); w: (Cout, C, k, k); y: (N, Cout, OH, OW)
    /// <summary>Direct convolution (cross-correlation, zero padding).</summary>
    public static void Conv2dForward(ReadOnlySpan<double> x, ReadOnlySpan<double> w, ReadOnlySpan<double> b, ConvGeometry g, int cout, Span<double> y)
    {
        for (int n = 0; n < g.N; n++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < g.OutH; oy++)
                    for (int ox = 0; ox < g.OutW; ox++)
                    {
                        double s = b.IsEmpty ? 0 : b[o];
                        for (int c = 0; c < g.C; c++)
                            for (int i = 0; i < g.KH; i++)
                                for (int j = 0; j < g.KW; j++)
                                {
                                    int yy = oy * g.Stride - g.Padding + i, xx = ox * g.Stride - g.Padding + j;
                                    if (yy < 0 || yy >= g.H || xx < 0 || xx >= g.W) continue;
                                    s += x[((n * g.C + c) * g.H + yy) * g.W + xx] * w[((o * g.C + c) * g.KH + i) * g.KW + j];
                                }
                        y[((n * cout + o) * g.OutH + oy) * g.OutW + ox] = s;
                    }
    }

    /// <summary>The adjoint of <see cref="Conv2dForward"/>: dx, dW (+=) and db (+=).</summary>
    public static void Conv2dBackward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, ReadOnlySpan<double> w, ConvGeometry g, int cout,
        Span<double> dx, Span<double> dw, Span<double> db)
    {
        dx.Clear();
        for (int n = 0; n < g.N; n++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < g.OutH; oy++)
                    for (int ox = 0; ox < g.OutW; ox++)
                    {
                        double gv = dy[((n * cout + o) * g.OutH + oy) * g.OutW + ox];
                        if (!db.IsEmpty) db[o] += gv;
                        for (int c = 0; c < g.C; c++)
                            for (int i = 0; i < g.KH; i++)
                                for (int j = 0; j < g.KW; j++)
                                {
                                    int yy = oy * g.Stride - g.Padding + i, xx = ox * g.Stride - g.Padding + j;
                                    if (yy < 0 || yy >= g.H || xx < 0 || xx >= g.W) continue;
                                    int xi = ((n * g.C + c) * g.H + yy) * g.W + xx, wi = ((o * g.C + c) * g.KH + i) * g.KW + j;
                                    dx[xi] += gv * w[wi];
                                    dw[wi] += gv * x[xi];
                                }
                    }
    }

    /// <summary>Max pooling (padding is -infinity); <paramref name="avg"/> selects average pooling (padding counted as zeros).</summary>
    public static void PoolForward(ReadOnlySpan<double> x, ConvGeometry g, bool avg, Span<double> y)
    {
        for (int p = 0; p < g.N * g.C; p++)
            for (int oy = 0; oy < g.OutH; oy++)
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    double acc = avg ? 0 : double.NegativeInfinity;
                    foreach (int xi in Window(g, p, oy, ox)) acc = avg ? acc + x[xi] : Math.Max(acc, x[xi]);
                    y[(p * g.OutH + oy) * g.OutW + ox] = avg ? acc / (g.KH * g.KW) : acc;
                }
    }

    /// <summary>The gradient of <see cref="PoolForward"/>: to the arg-max (first on ties) or spread over the window.</summary>
    public static void PoolBackward(ReadOnlySpan<double> dy, ReadOnlySpan<double> x, ConvGeometry g, bool avg, Span<double> dx)
    {
        dx.Clear();
        for (int p = 0; p < g.N * g.C; p++)
            for (int oy = 0; oy < g.OutH; oy++)
                for (int ox = 0; ox < g.OutW; ox++)
                {
                    double gv = dy[(p * g.OutH + oy) * g.OutW + ox];
                    int best = -1;
                    foreach (int xi in Window(g, p, oy, ox))
                    {
                        if (avg) dx[xi] += gv / (g.KH * g.KW);
                        else if (best < 0 || x[xi] > x[best]) best = xi;
                    }
                    if (!avg && best >= 0) dx[best] += gv;
                }
    }

    private static List<int> Window(ConvGeometry g, int plane, int oy, int ox)
    {
        var list = new List<int>();
        for (int i = 0; i < g.KH; i++)
            for (int j = 0; j < g.KW; j++)
            {
                int yy = oy * g.Stride - g.Padding + i, xx = ox * g.Stride - g.Padding + j;
                if (yy >= 0 && yy < g.H && xx >= 0 && xx < g.W) list.Add((plane * g.H + yy) * g.W + xx);
            }
        return list;
    }

    /// <summary>The activation's value at x.</summary>
    public static double Activate(Activations.Kind kind, double x) => kind switch
    {
        Activations.Kind.Relu => Math.Max(x, 0),
        Activations.Kind.Sigmoid => 1 / (1 + Math.Exp(-x)),
        _ => Math.Tanh(x),
    };

    /// <summary>The activation's derivative at x.</summary>
    public static double ActivateDerivative(Activations.Kind kind, double x) => kind switch
    {
        Activations.Kind.Relu => x > 0 ? 1 : 0,
        Activations.Kind.Sigmoid => Activate(kind, x) * (1 - Activate(kind, x)),
        _ => 1 - Math.Tanh(x) * Math.Tanh(x),
    };

    // logits: (N, C); labels: (N)
    /// <summary>Mean softmax cross-entropy and, when <paramref name="grad"/> is not empty, its gradient (softmax - onehot) / N.</summary>
    public static double CrossEntropy(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels, int c, Span<double> grad)
    {
        int n = labels.Length;
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            var row = logits.Slice(i * c, c);
            double max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            double sum = 0;
            foreach (var v in row) sum += Math.Exp(v - max);
            total += Math.Log(sum) + max - row[labels[i]];
            if (!grad.IsEmpty)
                for (int j = 0; j < c; j++) grad[i * c + j] = (Math.Exp(row[j] - max) / sum - (j == labels[i] ? 1 : 0)) / n;
        }
        return total / n;
    }
}
