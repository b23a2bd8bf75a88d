using NormNet.Layers;
using NormNet.Models;

namespace NormNet.Tests.Models;

/// <summary>For 28x28 grey images and 10 classes, the spec-built families are the old hand-written networks bit for
/// bit: the same module tree, state_dict names, shapes and initial values, and the generator left in the same state.</summary>
public sealed class FamilyEquivalenceTests
{
    /// <summary>Everything a network is made of, as comparable text: module paths and types, then every state entry's
    /// name, shape and exact bits.</summary>
    private static List<string> Fingerprint(Module model)
    {
        var lines = model.NamedModules().Select(m => $"module '{m.Name}' {m.Module.GetType().Name}").ToList();
        foreach (var (name, tensor, scalar) in model.StateEntries())
            lines.Add(tensor is null
                ? $"{name} int64 {scalar!.Value}"
                : $"{name} {tensor.ShapeString} {string.Join(",", tensor.ToArray().Select(v => BitConverter.SingleToInt32Bits(v).ToString("x8")))}");
        return lines;
    }

    private static void AssertSame(Func<Rng, Sequential> legacy, Func<Rng, Sequential> current, string what)
    {
        var (rngOld, rngNew) = (new Rng(7), new Rng(7));
        var expected = Fingerprint(legacy(rngOld));
        var actual = Fingerprint(current(rngNew));
        Assert.True(expected.Count > 3, what);
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++) Assert.True(expected[i] == actual[i], $"{what}: entry {i} differs:\n  old {Short(expected[i])}\n  new {Short(actual[i])}");
        Assert.True(rngOld.NextUInt64() == rngNew.NextUInt64(), $"{what}: the generator is left in another state (different number of draws)");
    }

    private static string Short(string s) => s.Length > 160 ? s[..160] + "..." : s;

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, null)]
    [InlineData(false, 0.1)]
    [InlineData(true, 0.1)]
    public void MlpSigmoid_IsTheOldNetwork(bool batchNorm, double? initStd)
    {
        AssertSame(r => LegacyArchitectures.MlpSigmoid(batchNorm, r, initStd), r => Architectures.MlpSigmoid(batchNorm, r, initStd), $"mlp-sigmoid bn={batchNorm} std={initStd}");
        AssertSame(r => LegacyArchitectures.MlpSigmoid(batchNorm, r, initStd), r => Architectures.Create("mlp-sigmoid", batchNorm, r, initStd), "Create(mlp-sigmoid)");
        AssertSame(r => LegacyArchitectures.MlpSigmoid(batchNorm, r, initStd),
            r => NetworkFamilies.MlpSigmoid(batchNorm).Build([784], 10, r, initStd is { } s ? NetworkFamilies.NormalLinearInit(s, r) : null), "NetworkFamilies.MlpSigmoid");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReluMlp_IsTheOldNetwork(bool batchNorm)
    {
        AssertSame(r => LegacyArchitectures.Mlp(batchNorm, r, relu: true), r => Architectures.Mlp(batchNorm, r, relu: true), $"mlp relu bn={batchNorm}");
        AssertSame(r => LegacyArchitectures.Mlp(batchNorm, r, relu: true, 0.05), r => Architectures.Mlp(batchNorm, r, relu: true, 0.05), $"mlp relu std bn={batchNorm}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Cnn_IsTheOldNetwork(bool batchNorm)
    {
        AssertSame(r => LegacyArchitectures.Cnn(batchNorm, r), r => Architectures.Cnn(batchNorm, r), $"cnn bn={batchNorm}");
        AssertSame(r => LegacyArchitectures.Cnn(batchNorm, r), r => Architectures.Create("cnn", batchNorm, r, initStd: 0.1), "Create(cnn) ignores initStd");
        AssertSame(r => LegacyArchitectures.Cnn(batchNorm, r), r => NetworkFamilies.Cnn(batchNorm: batchNorm).Build([1, 28, 28], 10, r), "NetworkFamilies.Cnn");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ResNet_IsTheOldNetwork(bool batchNorm)
    {
        AssertSame(r => LegacyArchitectures.ResNet(batchNorm, r), r => Architectures.ResNet(batchNorm, r), $"resnet bn={batchNorm}");
        AssertSame(r => LegacyArchitectures.ResNet(batchNorm, r), r => Architectures.Create("resnet", batchNorm, r), "Create(resnet)");
    }

    [Fact]
    public void TheFingerprint_SeesADifferentSeed()
    {
        // guards the comparison itself: another seed, or one draw more, must not compare equal
        Assert.NotEqual(Fingerprint(LegacyArchitectures.Cnn(true, new Rng(7))), Fingerprint(Architectures.Cnn(true, new Rng(8))));
        var shifted = new Rng(7);
        shifted.NextUInt64();
        Assert.NotEqual(Fingerprint(LegacyArchitectures.Cnn(true, new Rng(7))), Fingerprint(Architectures.Cnn(true, shifted)));
    }

    [Fact]
    public void CompatibilityShapes_StayThoseOf28x28()
    {
        Assert.Equal([784], Architectures.InputShapeOf("mlp-sigmoid"));
        Assert.Equal([1, 28, 28], Architectures.InputShapeOf("cnn"));
        Assert.Equal([3 * 32 * 32], Architectures.InputShapeOf("mlp", [3, 32, 32]));
        Assert.Equal([3, 32, 32], Architectures.InputShapeOf("resnet", [3, 32, 32]));
        Assert.Contains("expected one of: mlp-sigmoid, cnn, resnet", Assert.Throws<ArgumentException>(() => Architectures.Create("vgg", true, new Rng(1))).Message);
        Assert.Contains("expected one of: mlp-sigmoid, mlp, cnn, resnet", Assert.Throws<ArgumentException>(() => NetworkFamilies.Create("vgg")).Message);
    }
}
