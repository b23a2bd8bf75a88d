using System.Runtime.CompilerServices;

namespace NormNet.Kernels;

/// <summary>An activation a kernel applies to its output as it stores it, instead of a separate pass over the output.</summary>
public enum FusedActivation
{
    /// <summary>The output as computed.</summary>
    None,
    /// <summary>max(y, 0), NaN propagating: the bits of <see cref="Activations.Kind.Relu"/> applied afterwards.</summary>
    Relu,
}

/// <summary>A fused activation as an operation struct, so a kernel's store loop is written once and specialized per
/// activation by the JIT.</summary>
internal interface IFusedActivation
{
    /// <summary>f(v) on a vector.</summary>
    static abstract TV Apply<TS, TV>(TV v) where TS : ISimd<TV> where TV : struct;
}

/// <summary>f(v) = v.</summary>
internal readonly struct NoActivation : IFusedActivation
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<TS, TV>(TV v) where TS : ISimd<TV> where TV : struct => v;
}

/// <summary>f(v) = max(v, 0), NaN propagating, as <see cref="Activations"/>' ReLU (the scalar width is its tail).</summary>
internal readonly struct ReluActivation : IFusedActivation
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Apply<TS, TV>(TV v) where TS : ISimd<TV> where TV : struct => TS.Max(v, TS.Zero);
}
