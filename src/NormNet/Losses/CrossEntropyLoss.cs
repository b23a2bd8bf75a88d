namespace NormNet.Losses;

/// <summary>Softmax cross-entropy over (N, C) logits and integer class labels, averaged over the batch, as
/// <c>torch.nn.CrossEntropyLoss</c>; softmax and log are fused (log-sum-exp with the row maximum subtracted)
/// so large logits neither overflow nor lose precision.</summary>
public sealed class CrossEntropyLoss
{
    private Tensor? _gradLogits;
    private float[] _softmax = [];
    private int[] _labels = [];
    private int _n, _c;
    private bool _ready;

    /// <summary>The mean loss -log softmax(logits)[label] over the batch; remembers what <see cref="Backward"/> needs.</summary>
    /// <exception cref="ArgumentException">Logits are not (N, C), the label count differs from N, or a label is outside [0, C).</exception>
    public double Forward(Tensor logits, ReadOnlySpan<int> labels)
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (logits.Rank != 2 || logits.Dim(0) < 1)
            throw new ArgumentException($"CrossEntropyLoss expected logits (N, C), got {logits.ShapeString}.", nameof(logits));
        int n = logits.Dim(0), c = logits.Dim(1);
        if (labels.Length != n)
            throw new ArgumentException($"CrossEntropyLoss: {labels.Length} labels for {n} rows of logits.", nameof(labels));
        for (int i = 0; i < n; i++)
            if ((uint)labels[i] >= (uint)c)
                throw new ArgumentException($"CrossEntropyLoss: label {labels[i]} at index {i} is outside [0, {c}).", nameof(labels));
        if (_softmax.Length < n * c) _softmax = new float[n * c]; // sized to the largest batch seen, reused for smaller ones
        if (_labels.Length < n) _labels = new int[n];
        labels.CopyTo(_labels);
        var x = logits.ReadOnlySpan;
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            var row = x.Slice(i * c, c);
            var p = _softmax.AsSpan(i * c, c);
            // loss_i = logsumexp(x_i) - x_i[label] = log(sum exp(x - max)) + max - x[label]
            float max = float.NegativeInfinity;
            foreach (float v in row) max = Math.Max(max, v);
            double sum = 0;
            for (int j = 0; j < c; j++)
            {
                double e = Math.Exp(row[j] - (double)max);
                p[j] = (float)e;
                sum += e;
            }
            for (int j = 0; j < c; j++) p[j] = (float)(p[j] / sum);
            total += Math.Log(sum) + max - row[labels[i]];
        }
        _n = n;
        _c = c;
        _ready = true;
        return total / n;
    }

    /// <summary>The gradient of the mean loss with respect to the logits: (softmax - onehot(label)) / N.</summary>
    public Tensor Backward()
    {
        if (!_ready) throw new InvalidOperationException("CrossEntropyLoss.Backward called before Forward.");
        _gradLogits = Tensor.Reuse(_gradLogits, [_n, _c]);
        var g = _gradLogits.Span;
        float inv = 1f / _n;
        for (int i = 0; i < _n; i++)
            for (int j = 0; j < _c; j++)
                g[i * _c + j] = (_softmax[i * _c + j] - (j == _labels[i] ? 1f : 0f)) * inv;
        return _gradLogits;
    }
}
