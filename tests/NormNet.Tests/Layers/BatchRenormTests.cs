using NormNet.Kernels;
using NormNet.Layers;
using NormNet.Tests.Kernels;
using static NormNet.Tests.TestUtil;

namespace NormNet.Tests.Layers;

/// <summary>Batch renormalization against a plain double implementation of Algorithm 1 of Ioffe (2017)
/// (<see cref="BatchRenormReference"/>), equal to batch norm with rMax = 1 and dMax = 0, and the ramp schedule.</summary>
public class BatchRenormTests
{
    private static void CopyAffine(BatchRenormBase from, BatchNormBase to)
    {
        to.Weight!.Value.CopyFrom(from.Weight!.Value);
        to.Bias!.Value.CopyFrom(from.Bias!.Value);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WithRMax1AndDMax0_IsBatchNorm_BitForBit(bool images)
    {
        BatchRenormBase renorm = images ? new BatchRenorm2d(3, rMax: 1, dMax: 0) : new BatchRenorm1d(5, rMax: 1, dMax: 0);
        BatchNormBase bn = images ? new BatchNorm2d(3) : new BatchNorm1d(5);
        int[] shape = images ? [4, 3, 5, 6] : [8, 5];
        renorm.Weight!.Value.CopyFrom(Tensor.FromArray(RandomNormal(renorm.NumFeatures, 1, 1, 0.3), renorm.NumFeatures));
        renorm.Bias!.Value.CopyFrom(Tensor.FromArray(RandomNormal(renorm.NumFeatures, 2), renorm.NumFeatures));
        CopyAffine(renorm, bn);
        int n = shape.Aggregate(1, (p, d) => p * d);
        for (int step = 0; step < 3; step++)
        {
            renorm.ZeroGrad();
            bn.ZeroGrad();
            var x = Tensor.FromArray(RandomNormal(n, 10 + step, 2, 3), shape);
            var g = Tensor.FromArray(RandomNormal(n, 20 + step), shape);
            Assert.Equal(bn.Forward(x).ToArray(), renorm.Forward(x).ToArray());
            Assert.Equal(bn.Backward(g).ToArray(), renorm.Backward(g).ToArray());
            Assert.Equal(bn.Weight!.Grad.ToArray(), renorm.Weight.Grad.ToArray());
            Assert.Equal(bn.Bias!.Grad.ToArray(), renorm.Bias.Grad.ToArray());
            Assert.Equal(bn.RunningMean!.ToArray(), renorm.RunningMean.ToArray());
        }
        Assert.All(renorm.R.ToArray(), r => Assert.Equal(1.0, r));
        Assert.All(renorm.D.ToArray(), d => Assert.Equal(0.0, d));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MatchesAlgorithm1(bool images)
    {
        const double eps = 1e-5, alpha = 0.3, rMax = 1.5, dMax = 0.5;
        BatchRenormBase layer = images ? new BatchRenorm2d(4, eps, alpha, rMax: rMax, dMax: dMax) : new BatchRenorm1d(6, eps, alpha, rMax: rMax, dMax: dMax);
        int c = layer.NumFeatures;
        int[] shape = images ? [3, c, 4, 5] : [10, c];
        var shapeView = images ? new BatchNormShape(3, c, 20) : new BatchNormShape(10, c, 1);
        int n = (int)shapeView.Elements;
        var gamma = RandomNormalDouble(c, 1, 1, 0.3);
        var beta = RandomNormalDouble(c, 2);
        layer.Weight!.Value.CopyFrom(Tensor.FromArray(gamma.Select(v => (float)v).ToArray(), c));
        layer.Bias!.Value.CopyFrom(Tensor.FromArray(beta.Select(v => (float)v).ToArray(), c));
        gamma = ToDouble(layer.Weight.Value.ReadOnlySpan);
        beta = ToDouble(layer.Bias.Value.ReadOnlySpan);
        var mu = new double[c];
        var sigma = Enumerable.Repeat(Math.Sqrt(1 + eps), c).ToArray(); // running_var 1
        double[] r = new double[c], d = new double[c], muB = new double[c], sigmaB = new double[c];
        bool clipped = false, interior = false;
        for (int step = 0; step < 4; step++)
        {
            // channel scales from 0.3 to 3 and offsets up to +-1.5: some r and d clip, some do not
            var x = RandomNormal(n, 30 + step);
            for (int i = 0; i < n; i++)
            {
                int ch = i / shapeView.Inner % c;
                x[i] = x[i] * (0.3f + 0.9f * ch) + 0.5f * (ch - 2) + 0.1f * step;
            }
            var g = RandomNormal(n, 40 + step);
            layer.ZeroGrad();
            var y = layer.Forward(Tensor.FromArray(x, shape)).ToArray();
            var dx = layer.Backward(Tensor.FromArray(g, shape)).ToArray();

            var ry = new double[n];
            BatchRenormReference.TrainingForward(ToDouble(x), gamma, beta, shapeView, eps, rMax, dMax, alpha, mu, sigma, ry, r, d, muB, sigmaB);
            var rdx = new double[n];
            double[] rdg = new double[c], rdb = new double[c];
            BatchRenormReference.TrainingBackward(ToDouble(g), ToDouble(x), gamma, r, d, muB, sigmaB, shapeView, rdx, rdg, rdb);
            AssertClose(r, layer.R, 1e-6, $"step {step} r");
            AssertClose(d, layer.D, 1e-6, $"step {step} d", floor: 1e-3);
            AssertClose(ry, y, 1e-5, $"step {step} y", floor: 1);
            AssertClose(rdx, dx, 1e-5, $"step {step} dx", floor: 1e-2);
            AssertClose(rdg, layer.Weight.Grad.ReadOnlySpan, 1e-5, $"step {step} dweight", floor: 1);
            AssertClose(rdb, layer.Bias.Grad.ReadOnlySpan, 1e-5, $"step {step} dbias", floor: 1);
            AssertClose(mu, layer.RunningMean.ReadOnlySpan, 1e-6, $"step {step} moving mean", floor: 1);
            AssertClose(sigma, ToDouble(layer.RunningVar.ReadOnlySpan).Select(v => Math.Sqrt(v + eps)).ToArray(), 1e-6, $"step {step} moving sigma");
            clipped |= r.Any(v => Math.Abs(v - rMax) < 1e-12 || Math.Abs(v - 1 / rMax) < 1e-12) || d.Any(v => Math.Abs(v) == dMax);
            interior |= r.Any(v => v > 1 / rMax + 1e-3 && v < rMax - 1e-3 && Math.Abs(v - 1) > 1e-3);
        }
        Assert.True(clipped && interior, "the case must exercise both clipped and unclipped corrections");
        Assert.Equal(4, layer.NumBatchesTracked);

        // eval: y = gamma * (x - mu) / sigma + beta
        layer.Eval();
        var xe = RandomNormal(n, 50, 1, 2);
        var ye = new double[n];
        BatchRenormReference.InferenceForward(ToDouble(xe), gamma, beta, mu, sigma, shapeView, ye);
        AssertClose(ye, layer.Forward(Tensor.FromArray(xe, shape)).ReadOnlySpan, 1e-5, "eval y", floor: 1);
    }

    [Fact]
    public void ReferenceBackward_MatchesNumericalGradient_WhereRAndDAreClipped()
    {
        // with r and d held at their clip limits, small changes of x do not move them, so the stop-gradient backward
        // is the true gradient of the forward there and a numerical check applies
        var shape = new BatchNormShape(4, 2, 3);
        int n = (int)shape.Elements, c = 2;
        var x = RandomNormalDouble(n, 1, 0.3, 1.5);
        var up = RandomNormalDouble(n, 2);
        var gamma = RandomNormalDouble(c, 3, 1, 0.4);
        var beta = RandomNormalDouble(c, 4);
        double[] Mu() => [-5, 5];
        double[] Sigma() => [0.1, 0.1]; // sigma_B / sigma ~ 15 > rMax; |mu_B - mu| / sigma ~ 50 > dMax
        double[] r = new double[c], d = new double[c], muB = new double[c], sigmaB = new double[c];
        double L(double[] xs, double[] gm, double[] bt)
        {
            var y = new double[n];
            BatchRenormReference.TrainingForward(xs, gm, bt, shape, 1e-3, 2, 1, 0.1, Mu(), Sigma(), y, new double[c], new double[c], new double[c], new double[c]);
            return y.Zip(up, (a, b) => a * b).Sum();
        }
        BatchRenormReference.TrainingForward(x, gamma, beta, shape, 1e-3, 2, 1, 0.1, Mu(), Sigma(), new double[n], r, d, muB, sigmaB);
        Assert.Equal([2.0, 2.0], r);
        Assert.Equal([1.0, -1.0], d);
        var dx = new double[n];
        double[] dgamma = new double[c], dbeta = new double[c];
        BatchRenormReference.TrainingBackward(up, x, gamma, r, d, muB, sigmaB, shape, dx, dgamma, dbeta);
        Assert.True(MaxAbs(dx) > 1e-2);
        BatchNormGradCheckTests.CheckNumeric(x, dx, xs => L(xs, gamma, beta), "renorm dx");
        BatchNormGradCheckTests.CheckNumeric(gamma, dgamma, gm => L(x, gm, beta), "renorm dgamma");
        BatchNormGradCheckTests.CheckNumeric(beta, dbeta, bt => L(x, gamma, bt), "renorm dbeta");
    }

    [Fact]
    public void Schedule_RampsLinearlyAfterWarmup_AndDrivesTheLayer()
    {
        var paper = BatchRenormSchedule.Paper;
        Assert.Equal((1.0, 0.0), paper.At(0));
        Assert.Equal((1.0, 0.0), paper.At(5000));
        var (rm, dm) = paper.At(22500);
        Assert.Equal(2.0, rm, 12);
        Assert.Equal(4.375, dm, 12);
        Assert.Equal((3.0, 5.0), paper.At(40000));
        Assert.Equal((3.0, 5.0), paper.At(1_000_000));

        var layer = new BatchRenorm1d(3, schedule: new BatchRenormSchedule(1, 2, 3, 1, 2));
        layer.RunningMean.Span.Fill(10); // far from the data: d clips at dMax once the ramp allows it
        var x = Tensor.FromArray(RandomNormal(12, 5), 4, 3);
        layer.Forward(x);
        Assert.All(layer.D.ToArray(), v => Assert.Equal(0.0, v)); // step 0: warm-up, plain batch norm
        layer.Forward(x);
        layer.Forward(x); // step 2: dMax = 1
        Assert.All(layer.D.ToArray(), v => Assert.Equal(-1.0, v));
        Assert.Equal((2.0, 1.0), layer.CurrentLimits);
    }
}
