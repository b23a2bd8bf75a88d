using NormNet.Losses;

namespace NormNet.Tests.Losses;

/// <summary>Issue #15: metrics and losses never report a non-finite model as accurate.</summary>
public class MetricsTests
{
    [Fact]
    public void NaNRows_CountAsWrong_NotAsCorrect()
    {
        var scores = Tensor.Full(float.NaN, 4, 10);
        int[] labels = [0, 3, 7, 9];
        Assert.Equal(0, Metrics.CountCorrect(scores, labels));
        Assert.Equal(0, Metrics.CountTopK(scores, labels, 5));
        Assert.Equal(0.0, Metrics.Accuracy(scores, labels));
        Assert.Equal(4, Metrics.CountNonFiniteRows(scores));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void OneNonFiniteScore_MakesItsRowWrong_AndLeavesOthersAlone(float bad)
    {
        var scores = Tensor.FromArray([0.9f, 0.1f, 0.2f, 0.1f, 0.8f, 0.3f, 0.1f, 0.2f, 0.7f], 3, 3);
        int[] labels = [0, 1, 2];
        Assert.Equal(3, Metrics.CountCorrect(scores, labels));
        scores[1, 1] = bad; // +inf would otherwise be the arg-max and count as correct
        Assert.Equal(2, Metrics.CountCorrect(scores, labels));
        scores[1, 1] = 0.8f;
        scores[1, 0] = bad; // -inf, NaN elsewhere in the row: also wrong
        Assert.Equal(2, Metrics.CountCorrect(scores, labels));
        Assert.Equal(1, Metrics.CountNonFiniteRows(scores));
        var confusion = new long[3, 3];
        Metrics.AddToConfusion(scores, labels, confusion);
        Assert.Equal(0, confusion[1, 0] + confusion[1, 1] + confusion[1, 2]); // the broken row predicts nothing
        Assert.Equal(1, confusion[0, 0]);
        Assert.Equal(1, confusion[2, 2]);
    }

    [Fact]
    public void LabelsOutsideTheClasses_AreRefused_WithTheLabel()
    {
        var scores = Tensor.Zeros(2, 3);
        Assert.Contains("label 3", Assert.Throws<ArgumentException>(() => Metrics.CountCorrect(scores, [0, 3])).Message);
        Assert.Throws<ArgumentException>(() => Metrics.AddToConfusion(scores, [0, -1], new long[3, 3]));
    }

    [Fact]
    public void Losses_OfNonFiniteOutputs_AreNotFinite()
    {
        var logits = Tensor.FromArray([1f, float.NaN, 0f, 2f, 1f, 0f], 2, 3);
        Assert.True(double.IsNaN(new CrossEntropyLoss().Forward(logits, [0, 1])));
        logits[0, 1] = float.PositiveInfinity;
        Assert.False(double.IsFinite(new CrossEntropyLoss().Forward(logits, [0, 1])));
        Assert.True(double.IsNaN(new MseLoss().Forward(Tensor.Full(float.NaN, 2, 3), Tensor.Zeros(2, 3))));
    }
}
