using System.Runtime.Intrinsics;
using NormNet.Kernels;

namespace NormNet.Tests.Kernels;

/// <summary>The single-precision vector exp behind sigmoid and tanh: within 1 ulp of e^x (in double, then rounded) from
/// overflow down through the subnormals, the same bits at every width, and the special values of e^x.</summary>
public class SimdExpTests
{
    public static TheoryData<Width> Widths => KernelWidths.Supported();

    private static float Exp(Width w, float x) => w switch
    {
        Width.W512 => SimdExp.Exp<Simd512, Vector512<float>>(Vector512.Create(x))[0],
        Width.W256 => SimdExp.Exp<Simd256, Vector256<float>>(Vector256.Create(x))[0],
        Width.W128 => SimdExp.Exp<Simd128, Vector128<float>>(Vector128.Create(x))[0],
        _ => SimdExp.Exp<SimdScalar, float>(x),
    };

    /// <summary>Arguments over the whole range (overflow past 88.72, subnormal results below -87.3, zero below -103.97),
    /// and a dense set near 0 where sigmoid and tanh spend most of their calls.</summary>
    private static IEnumerable<float> Arguments()
    {
        var rng = new Random(17);
        for (int i = 0; i < 40_000; i++) yield return (float)(rng.NextDouble() * 200 - 106);
        for (int i = 0; i < 40_000; i++) yield return (float)(rng.NextDouble() * 4 - 2);
    }

    private static long UlpDistance(float a, float b) => Math.Abs((long)BitConverter.SingleToInt32Bits(a) - BitConverter.SingleToInt32Bits(b));

    [Theory]
    [MemberData(nameof(Widths))]
    public void IsWithinOneUlp_OfTheExactValue(Width w)
    {
        foreach (float x in Arguments())
        {
            float expected = (float)Math.Exp(x), actual = Exp(w, x);
            Assert.True(UlpDistance(expected, actual) <= 1, $"{w}: exp({x:G9}) = {actual:G9}, exact {expected:G9}");
        }
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void GivesTheBitsOfTheScalarPath_AtEveryWidth(Width w)
    {
        foreach (float x in Arguments().Take(20_000))
            Assert.Equal(BitConverter.SingleToInt32Bits(Exp(Width.Scalar, x)), BitConverter.SingleToInt32Bits(Exp(w, x)));
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void SpecialValues_AreThoseOfExp(Width w)
    {
        Assert.True(float.IsNaN(Exp(w, float.NaN)), $"{w}: exp(NaN) is not NaN");
        Assert.Equal(float.PositiveInfinity, Exp(w, float.PositiveInfinity));
        Assert.Equal(float.PositiveInfinity, Exp(w, 89f));
        Assert.Equal(0f, Exp(w, float.NegativeInfinity));
        Assert.Equal(0f, Exp(w, -104f));
        Assert.Equal(1f, Exp(w, 0f));
        Assert.Equal(1f, Exp(w, -0f));
        // the largest finite result and a subnormal one
        Assert.Equal((float)Math.Exp(88.72f), Exp(w, 88.72f));
        Assert.Equal((float)Math.Exp(-100f), Exp(w, -100f));
    }
}
