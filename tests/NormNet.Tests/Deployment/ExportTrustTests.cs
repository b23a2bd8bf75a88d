using NormNet.Deployment;
using NormNet.Layers;

namespace NormNet.Tests.Deployment;

/// <summary>Issue #15: a model with non-finite weights or a negative variance is never folded or exported.</summary>
public sealed class ExportTrustTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Sequential Model()
    {
        var model = new Sequential(new Linear(4, 3, rng: new Rng(1)), new BatchNorm1d(3), new ReLU(), new Linear(3, 2, rng: new Rng(2)));
        model.Eval();
        return model;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NaNWeight_IsRefused_AndNoFileIsWritten(bool fold)
    {
        var model = Model();
        ((Linear)model[3]).Weight.Value.Span[4] = float.NaN;
        string path = Path.Combine(_dir, "nan.onnx");
        var e = Assert.Throws<ArgumentException>(() => OnnxExporter.Export(model, [4], path, fold));
        Assert.Contains(fold ? "'2.weight' holds NaN at element 4" : "'3.weight' holds NaN at element 4", e.Message); // folding renumbers the layers
        Assert.False(File.Exists(path));
    }

    [Theory]
    [InlineData(false, "'1.running_var' holds -2 at element 1, expected a non-negative variance")]
    [InlineData(true, "channel 1 (running_var -2")]
    public void NegativeRunningVariance_IsRefused(bool fold, string fragment)
    {
        var model = Model();
        ((BatchNorm1d)model[1]).RunningVar!.Span[1] = -2f;
        var e = Assert.ThrowsAny<Exception>(() => OnnxExporter.ToBytes(model, [4], fold));
        Assert.True(e is ArgumentException or InvalidOperationException, e.GetType().Name);
        Assert.Contains(fragment, e.Message);
        if (fold) Assert.Contains("refusing to fold", Assert.Throws<InvalidOperationException>(() => BatchNormFolding.Fold(model)).Message);
        ((BatchNorm1d)model[1]).RunningVar!.Span[1] = 1f;
        Assert.NotEmpty(OnnxExporter.ToBytes(model, [4], fold));
    }
}
