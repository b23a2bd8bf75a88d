using NormNet.Layers;
using static NormNet.Deployment.OnnxGraphBuilder;

namespace NormNet.Deployment;

// The normalization layers at opset 15: batch-norm-like layers as BatchNormalization; InstanceNorm as
// InstanceNormalization; GroupNorm as Reshape -> InstanceNormalization -> Reshape -> Mul -> Add; LayerNorm
// (LayerNormalization needs opset 17) as ReduceMean / Sub / Mul / ReduceMean / Add / Sqrt / Div -> Mul -> Add.
internal sealed partial class OnnxModuleWriter
{
    /// <summary>BatchNormalization in inference mode: y = (x - mean) / sqrt(var + epsilon) * scale + B.</summary>
    private (string, int[]) WriteBatchNorm(FixedBatchNorm bn, string path, string x, int[] shape)
    {
        Expect(bn.Ranks.Contains(shape.Length) && shape[1] == bn.NumFeatures, bn.Layer, path, shape, bn.Layout);
        int c = bn.NumFeatures;
        string scale = bn.Weight is null ? graph.AddInitializer($"{path}.unit_weight", Enumerable.Repeat(1f, c).ToArray(), c) : Parameter(path, "weight", bn.Weight);
        string shift = bn.Bias is null ? graph.AddInitializer($"{path}.zero_bias", new float[c], c) : Parameter(path, "bias", bn.Bias);
        string mean = Parameter(path, "running_mean", bn.RunningMean);
        var runningVar = bn.RunningVar.ReadOnlySpan;
        for (int i = 0; i < runningVar.Length; i++)
            if (runningVar[i] < 0)
                throw new ArgumentException($"ONNX export: '{BatchNormFolding.Join(path, "running_var")}' holds {runningVar[i]} at element {i}, expected a non-negative variance; refusing to export a broken model.");
        string variance = Parameter(path, "running_var", bn.RunningVar);
        // ONNX momentum is the weight of the OLD running value (1 - PyTorch's); it only matters in training mode, which
        // is not exported. A cumulative average (momentum null) has no ONNX equivalent: ONNX's default 0.9 is written.
        string y = graph.AddNode("BatchNormalization", path, [x, scale, shift, mean, variance],
            Float("epsilon", (float)bn.Eps), Float("momentum", bn.OnnxMomentum));
        return (y, shape);
    }

    /// <summary>InstanceNormalization: y = (x - mean(x[n, c])) / sqrt(var(x[n, c]) + epsilon) * scale[c] + B[c].</summary>
    private (string, int[]) WriteInstanceNorm(InstanceNormBase norm, string path, string x, int[] shape)
    {
        int rank = norm is InstanceNorm1d ? 3 : 4;
        Expect(shape.Length == rank && shape[1] == norm.NumFeatures, norm, path, shape, rank == 3 ? $"(N, {norm.NumFeatures}, L)" : $"(N, {norm.NumFeatures}, H, W)");
        var (scale, shift) = Affine(path, norm.Weight?.Value, norm.Bias?.Value, norm.NumFeatures, [norm.NumFeatures]);
        return (graph.AddNode("InstanceNormalization", path, [x, scale, shift], Float("epsilon", (float)norm.Eps)), shape);
    }

    /// <summary>GroupNorm: (N, C, *) reshaped to (N, G, -1), InstanceNormalization over each group with unit scale,
    /// reshaped back, then the per-channel affine as Mul and Add with (C, 1, ..., 1) constants.</summary>
    private (string, int[]) WriteGroupNorm(GroupNorm norm, string path, string x, int[] shape)
    {
        Expect(shape.Length >= 2 && shape[1] == norm.NumChannels, norm, path, shape, $"(N, {norm.NumChannels}, *)");
        int g = norm.NumGroups;
        string groups = Shape(path, "group_shape", [0, g, -1]); // 0 copies the batch dimension
        string grouped = graph.AddNode("Reshape", path, [x, groups]);
        var (unit, zero) = Affine(path + ".group", null, null, g, [g]);
        string normalized = graph.AddNode("InstanceNormalization", path, [grouped, unit, zero], Float("epsilon", (float)norm.Eps));
        string back = Shape(path, "input_shape", [0, .. shape.AsSpan(1).ToArray().Select(d => (long)d)]);
        string y = graph.AddNode("Reshape", path, [normalized, back]);
        if (!norm.Affine) return (y, shape);
        var dims = new long[shape.Length - 1];
        Array.Fill(dims, 1L);
        dims[0] = norm.NumChannels;
        string weight = graph.AddInitializer(BatchNormFolding.Join(path, "weight"), norm.Weight!.Value.ReadOnlySpan, dims);
        string bias = graph.AddInitializer(BatchNormFolding.Join(path, "bias"), norm.Bias!.Value.ReadOnlySpan, dims);
        return (graph.AddNode("Add", path, [graph.AddNode("Mul", path, [y, weight]), bias]), shape);
    }

    /// <summary>LayerNorm over the last k axes: d = x - ReduceMean(x); y = d / Sqrt(ReduceMean(d * d) + eps) * weight + bias
    /// (the affine, of the normalized shape, broadcasts over the leading axes).</summary>
    private (string, int[]) WriteLayerNorm(LayerNorm norm, string path, string x, int[] shape)
    {
        var normalized = norm.NormalizedShape.ToArray();
        int k = normalized.Length;
        bool ok = shape.Length > k && shape.AsSpan(shape.Length - k).SequenceEqual(normalized);
        Expect(ok, norm, path, shape, $"(N, *, {string.Join(", ", normalized)})");
        var axes = Enumerable.Range(shape.Length - k, k).Select(a => (long)a).ToArray();
        string mean = graph.AddNode("ReduceMean", path, [x], Ints("axes", axes), Int("keepdims", 1));
        string d = graph.AddNode("Sub", path, [x, mean]);
        string variance = graph.AddNode("ReduceMean", path, [graph.AddNode("Mul", path, [d, d])], Ints("axes", axes), Int("keepdims", 1));
        string eps = graph.AddInitializer(BatchNormFolding.Join(path, "eps"), [(float)norm.Eps]);
        string std = graph.AddNode("Sqrt", path, [graph.AddNode("Add", path, [variance, eps])]);
        string y = graph.AddNode("Div", path, [d, std]);
        if (norm.Weight is not null) y = graph.AddNode("Mul", path, [y, Parameter(path, "weight", norm.Weight.Value)]);
        if (norm.Bias is not null) y = graph.AddNode("Add", path, [y, Parameter(path, "bias", norm.Bias.Value)]);
        return (y, shape);
    }

    /// <summary>Initializers for a (C) scale and shift: the layer's, or ones and zeros.</summary>
    private (string Scale, string Shift) Affine(string path, Tensor? weight, Tensor? bias, int c, long[] dims)
    {
        string scale = weight is null ? graph.AddInitializer($"{path}.unit_weight", Enumerable.Repeat(1f, c).ToArray(), dims) : Parameter(path, "weight", weight);
        string shift = bias is null ? graph.AddInitializer($"{path}.zero_bias", new float[c], dims) : Parameter(path, "bias", bias);
        return (scale, shift);
    }

    /// <summary>An int64 initializer holding a shape for Reshape.</summary>
    private string Shape(string path, string name, long[] values) => graph.AddInt64Initializer(BatchNormFolding.Join(path, name), values);
}
