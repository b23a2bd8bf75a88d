using System.Runtime.CompilerServices;

namespace NormNet.Kernels;

/// <summary>
/// e^x per lane for the sigmoid and tanh kernels, in single precision at every width: range reduction to
/// r = x - n ln 2 with |r| &lt;= ln(2) / 2, a polynomial for e^r, and the scale 2^n built from exponent bits.
/// </summary>
/// <remarks>
/// <para>The .NET vector exp it replaces widens to double and back. Measured, 1 thread, AVX-512, the sigmoid kernel on the
/// paper MLP's 64 x 100 activations: 2.5 -> 1.8 us (0.3 us of it the call itself), e^x within 1 ulp; the sigmoid stays within
/// 3 ulp of the exact value, as before.</para>
/// <para>It is written once over <see cref="ISimd{TVec}"/> with operations that round the same in every lane, so results are
/// bit-identical at every width, scalar included (the scalar path had used MathF.Exp, which rounds differently).
/// NaN propagates; e^x overflows to +inf above ~88.72 and underflows through the subnormals to 0 below ~-103.9.</para>
/// <para>The polynomial is the classic minimax fit of (e^r - 1 - r) / r^2 on |r| &lt;= ln(2) / 2 (Cephes' expf).</para>
/// </remarks>
internal static class SimdExp
{
    /// <summary>1.5 * 2^23: adding it to a float of magnitude below 2^22 rounds it to an integer (ties to even).</summary>
    private const float RoundMagic = 12582912f;
    private const float Log2E = 1.44269504088896341f;
    /// <summary>ln 2 in two parts: the high part has few enough bits that n * Ln2Hi is exact for |n| &lt;= 150.</summary>
    private const float Ln2Hi = 0.693145752f, Ln2Lo = 1.42860677e-6f;
    /// <summary>Below this e^x is under half the smallest subnormal (rounds to 0); above the high bound it overflows.</summary>
    private const float Lowest = -104f, Highest = 88.73f;
    private const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f;
    private const float P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    // y = e^x = 2^n * e^r, n = round(x log2 e), r = x - n ln 2
    /// <summary>e^x per lane, the same bits at every width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp<TS, TV>(TV x) where TS : ISimd<TV> where TV : struct
    {
        // clamp (NaN passes through): n then stays in [-150, 128]
        x = TS.Clamp(x, TS.Broadcast(Lowest), TS.Broadcast(Highest));
        TV magic = TS.Broadcast(RoundMagic);
        TV n = TS.Sub(TS.Add(TS.Mul(x, TS.Broadcast(Log2E)), magic), magic);
        TV r = TS.MulAdd(n, TS.Broadcast(-Ln2Hi), x);
        r = TS.MulAdd(n, TS.Broadcast(-Ln2Lo), r);
        // e^r = 1 + r + r^2 (((((P0 r + P1) r + P2) r + P3) r + P4) r + P5)
        TV p = TS.MulAdd(TS.Broadcast(P0), r, TS.Broadcast(P1));
        p = TS.MulAdd(p, r, TS.Broadcast(P2));
        p = TS.MulAdd(p, r, TS.Broadcast(P3));
        p = TS.MulAdd(p, r, TS.Broadcast(P4));
        p = TS.MulAdd(p, r, TS.Broadcast(P5));
        TV er = TS.Add(TS.MulAdd(p, TS.Mul(r, r), r), TS.Broadcast(1f));
        // 2^n = 2^n1 * 2^n2 with both halves in [-75, 64]: the first product is exact, the second rounds once (subnormals too)
        TV n1 = TS.Sub(TS.Add(TS.Mul(n, TS.Broadcast(0.5f)), magic), magic);
        TV n2 = TS.Sub(n, n1);
        return TS.Mul(TS.Mul(er, TS.Pow2(n1)), TS.Pow2(n2));
    }
}
