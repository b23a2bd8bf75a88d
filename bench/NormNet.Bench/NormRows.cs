using NormNet.Layers;

namespace NormNet.Bench;

/// <summary>GroupNorm (32 groups, as in Wu and He) and LayerNorm rows of the side-by-side benchmark, same ids as
/// bench/peer/pytorch_rows.py. Minimal traffic: the forward reads x and writes y (8 bytes per element; a group or
/// row fits in cache, so the statistics passes re-read it from there), the backward reads dy and x and writes dx (12).</summary>
internal static class NormRows
{
    /// <summary>GroupNorm inputs (N x C x H x W).</summary>
    public static readonly string[] GroupNormShapes = ["32x64x56x56", "128x256x14x14"];

    /// <summary>LayerNorm inputs (rows x D), normalized over the last dimension D.</summary>
    public static readonly string[] LayerNormShapes = ["4096x1024", "16384x256"];

    public const int Groups = 32;

    public static IEnumerable<Row> All()
    {
        foreach (var shape in GroupNormShapes)
            foreach (var row in Pair("gn", shape, dims => new GroupNorm(Groups, dims[1]))) yield return row;
        foreach (var shape in LayerNormShapes)
            foreach (var row in Pair("ln", shape, dims => new LayerNorm(dims[^1]))) yield return row;
    }

    private static IEnumerable<Row> Pair(string name, string shape, Func<int[], Module> make)
    {
        int[] dims = shape.Split('x').Select(int.Parse).ToArray();
        long n = BatchNormCase.Elements(shape);
        yield return new Row($"{name} train-fwd {shape}", () =>
        {
            var layer = make(dims);
            var x = BatchNormCase.Filled(dims, 1);
            return () => layer.Forward(x);
        }, 8 * n);
        yield return new Row($"{name} backward {shape}", () =>
        {
            var layer = make(dims);
            var x = BatchNormCase.Filled(dims, 1);
            var g = BatchNormCase.Filled(dims, 7);
            layer.Forward(x);
            return () => layer.Backward(g);
        }, 12 * n);
    }
}
