namespace NormNet.Tests.Tensors;

/// <summary>Issue #15 (memory): a layer's buffer keeps one storage across batch sizes instead of one per shape.</summary>
public class TensorReuseTests
{
    [Fact]
    public void Reuse_KeepsTheSameShape_SharesStorageWhenSmaller_AllocatesWhenLarger()
    {
        var full = Tensor.Reuse(null, [128, 10]);
        Assert.Same(full, Tensor.Reuse(full, [128, 10]));
        var tail = Tensor.Reuse(full, [16, 10]);
        Assert.Equal([16, 10], tail.Shape);
        tail.Span[5] = 42f;
        Assert.Equal(42f, full.Span[5]); // the same storage: a short batch allocates no new activations
        var back = Tensor.Reuse(tail, [128, 10]);
        Assert.Equal(42f, back.Span[5]); // and the full batch gets it back
        var larger = Tensor.Reuse(back, [200, 10]);
        larger.Span[5] = 1f;
        Assert.Equal(42f, back.Span[5]); // larger: new storage
        Assert.Equal(2000, larger.Length);
    }
}
