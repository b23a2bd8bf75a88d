using NormNet.Layers;
using NormNet.Models;
using NormNet.Serialization;
using Xunit.Abstractions;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Deployment;

/// <summary>Weights trained in PyTorch (tools/interop/export_pytorch.py, the resnet with batch norm, 20 SGD steps on
/// Fashion-MNIST) load into NormNet's architecture under the same state_dict names and give PyTorch's recorded eval
/// outputs; a file of another architecture names the first tensor that does not fit.</summary>
public sealed class PyTorchInteropTests(ITestOutputHelper output)
{
    private const string Weights = "pytorch_resnet_bn.safetensors", Recorded = "pytorch_resnet_bn_io.safetensors";

    [Fact]
    public void PyTorchResNetWeights_GivePyTorchsEvalOutputs()
    {
        var io = LoadGolden(Recorded);
        Assert.Equal("1", io.Metadata["version"]);
        Assert.Equal("resnet", io.Metadata["arch"]);
        var model = Architectures.Create("resnet", batchNorm: true, new Rng(0));
        ModelState.Load(model, GoldenPath(Weights));
        Assert.Equal(20, ((BatchNormBase)model[1]).NumBatchesTracked);
        model.Eval();

        var expected = io["outputs"].ToFloat32();
        var actual = model.Forward(io["inputs"].ToTensor()).ToArray();
        AssertClose(expected, actual, 1e-4, "NormNet vs PyTorch eval outputs");
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max() / MaxAbs(expected);
        output.WriteLine($"resnet with BN, PyTorch weights: NormNet vs PyTorch, max |diff| / output scale = {worst:G3} over {expected.Length} outputs");
    }

    [Theory]
    [InlineData("cnn", true, "tensor '0.weight' has shape (16, 1, 3, 3), expected (32, 1, 3, 3)")]
    [InlineData("resnet", false, "missing tensor '0.bias'")]
    public void WeightsOfAnotherArchitecture_NameTheFirstMismatchingTensor(string name, bool batchNorm, string message)
    {
        var model = Architectures.Create(name, batchNorm, new Rng(0));
        var before = model.StateEntries().Select(e => e.Tensor?.ToArray() ?? [e.Scalar!.Value]).ToList();
        var e = Assert.Throws<InvalidDataException>(() => ModelState.Load(model, GoldenPath(Weights)));
        Assert.Contains(message, e.Message);
        Assert.StartsWith(GoldenPath(Weights), e.Message);
        Assert.Equal(before, model.StateEntries().Select(s => s.Tensor?.ToArray() ?? [s.Scalar!.Value]).ToList());
    }

    [Fact]
    public void ACorruptWeightsFile_GivesAClearError()
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("normnet-interop-").FullName, "cut.safetensors");
        try
        {
            var bytes = File.ReadAllBytes(GoldenPath(Weights));
            File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
            var e = Assert.Throws<InvalidDataException>(() => ModelState.Load(Architectures.Create("resnet", true, new Rng(0)), path));
            Assert.StartsWith(path, e.Message);
            Assert.Contains("truncated", e.Message);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}
