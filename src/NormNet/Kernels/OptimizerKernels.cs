using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NormNet.Kernels;

/// <summary>Vectorized parameter updates of SGD and Adam/AdamW, with PyTorch's formulas.</summary>
public static unsafe class OptimizerKernels
{
    // p, g, buf: (n)
    /// <summary>SGD with momentum: d = g + wd*p; buf = first ? d : momentum*buf + (1 - dampening)*d;
    /// d = nesterov ? d + momentum*buf : buf (or d when momentum = 0); p -= lr*d.</summary>
    public static void Sgd(Span<float> p, ReadOnlySpan<float> g, Span<float> buf, float lr, float momentum, float dampening,
        float weightDecay, bool nesterov, bool first) =>
        Sgd(SimdDispatch.Widest, p, g, buf, lr, momentum, dampening, weightDecay, nesterov, first);

    /// <summary><see cref="Sgd(Span{float}, ReadOnlySpan{float}, Span{float}, float, float, float, float, bool, bool)"/> at a chosen width (tests run every width).</summary>
    internal static void Sgd(SimdWidth width, Span<float> p, ReadOnlySpan<float> g, Span<float> buf, float lr, float momentum, float dampening,
        float weightDecay, bool nesterov, bool first)
    {
        if (g.Length != p.Length || (momentum != 0 && buf.Length != p.Length))
            throw new ArgumentException($"Sgd: parameter has {p.Length} elements, gradient {g.Length}, buffer {buf.Length}.");
        fixed (float* pp = p, pg = g, pb = buf)
        {
            var a = new SgdArgs(lr, momentum, 1 - dampening, weightDecay, nesterov, first);
            SimdDispatch.Run(width, new SgdOp(pp, pg, pb, p.Length, a));
        }
    }

    private readonly struct SgdOp(float* p, float* g, float* buf, int n, SgdArgs a) : ISimdOperation
    {
        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct => Sgd<TS, TV>(p, g, buf, n, a);
    }

    // p, g, m, v: (n)
    /// <summary>Adam: g' = g + wd*p (Adam) or p *= 1 - lr*wd (AdamW); m = b1*m + (1-b1)*g'; v = b2*v + (1-b2)*g'^2;
    /// p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps) with bias corrections bc = 1 - beta^step.</summary>
    public static void Adam(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float lr, float beta1, float beta2,
        float eps, float weightDecay, bool decoupled, long step) =>
        Adam(SimdDispatch.Widest, p, g, m, v, lr, beta1, beta2, eps, weightDecay, decoupled, step);

    /// <summary><see cref="Adam(Span{float}, ReadOnlySpan{float}, Span{float}, Span{float}, float, float, float, float, float, bool, long)"/> at a chosen width.</summary>
    internal static void Adam(SimdWidth width, Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, float lr, float beta1, float beta2,
        float eps, float weightDecay, bool decoupled, long step)
    {
        if (g.Length != p.Length || m.Length != p.Length || v.Length != p.Length)
            throw new ArgumentException($"Adam: parameter has {p.Length} elements, gradient {g.Length}, moments {m.Length} and {v.Length}.");
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        var a = new AdamArgs(lr, beta1, beta2, eps, weightDecay, decoupled, (float)(lr / bc1), (float)(1 / Math.Sqrt(bc2)));
        fixed (float* pp = p, pg = g, pm = m, pv = v)
        {
            SimdDispatch.Run(width, new AdamOp(pp, pg, pm, pv, p.Length, a));
        }
    }

    private readonly struct AdamOp(float* p, float* g, float* m, float* v, int n, AdamArgs a) : ISimdOperation
    {
        public void Run<TS, TV>() where TS : ISimd<TV> where TV : struct => Adam<TS, TV>(p, g, m, v, n, a);
    }

    private readonly record struct SgdArgs(float Lr, float Momentum, float OneMinusDampening, float WeightDecay, bool Nesterov, bool First);

    private readonly record struct AdamArgs(float Lr, float Beta1, float Beta2, float Eps, float WeightDecay, bool Decoupled, float StepSize, float InvSqrtBc2);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Sgd<TS, TV>(float* p, float* g, float* buf, int n, SgdArgs a) where TS : ISimd<TV> where TV : struct
    {
        TV lr = TS.Broadcast(-a.Lr), mom = TS.Broadcast(a.Momentum), damp = TS.Broadcast(a.OneMinusDampening), wd = TS.Broadcast(a.WeightDecay);
        int w = TS.Width, i = 0;
        for (; i <= n - w; i += w)
        {
            TV pv = TS.Load(p + i);
            TV d = TS.MulAdd(wd, pv, TS.Load(g + i));                          // d = g + wd*p
            if (a.Momentum != 0)
            {
                TV b = a.First ? d : TS.MulAdd(mom, TS.Load(buf + i), TS.Mul(damp, d)); // buf = m*buf + (1-damp)*d
                TS.Store(b, buf + i);
                d = a.Nesterov ? TS.MulAdd(mom, b, d) : b;                        // d = d + m*buf, or buf
            }
            TS.Store(TS.MulAdd(lr, d, pv), p + i);                               // p -= lr*d
        }
        for (; i < n; i++)
        {
            float d = g[i] + a.WeightDecay * p[i];
            if (a.Momentum != 0)
            {
                float b = a.First ? d : a.Momentum * buf[i] + a.OneMinusDampening * d;
                buf[i] = b;
                d = a.Nesterov ? d + a.Momentum * b : b;
            }
            p[i] -= a.Lr * d;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Adam<TS, TV>(float* p, float* g, float* m, float* v, int n, AdamArgs a) where TS : ISimd<TV> where TV : struct
    {
        TV b1 = TS.Broadcast(a.Beta1), c1 = TS.Broadcast(1 - a.Beta1), b2 = TS.Broadcast(a.Beta2), c2 = TS.Broadcast(1 - a.Beta2);
        TV eps = TS.Broadcast(a.Eps), step = TS.Broadcast(-a.StepSize), invBc2 = TS.Broadcast(a.InvSqrtBc2);
        TV wd = TS.Broadcast(a.WeightDecay), shrink = TS.Broadcast(1 - a.Lr * a.WeightDecay);
        int w = TS.Width, i = 0;
        for (; i <= n - w; i += w)
        {
            TV pv = TS.Load(p + i), gv = TS.Load(g + i);
            if (a.Decoupled) pv = TS.Mul(pv, shrink);                              // AdamW: p *= 1 - lr*wd
            else gv = TS.MulAdd(wd, pv, gv);                                     // Adam: g += wd*p
            TV mv = TS.MulAdd(b1, TS.Load(m + i), TS.Mul(c1, gv));                 // m = b1*m + (1-b1)*g
            TV vv = TS.MulAdd(b2, TS.Load(v + i), TS.Mul(c2, TS.Mul(gv, gv)));     // v = b2*v + (1-b2)*g^2
            TS.Store(mv, m + i);
            TS.Store(vv, v + i);
            TV denom = TS.MulAdd(TS.Sqrt(vv), invBc2, eps);                       // sqrt(v)/sqrt(bc2) + eps
            TS.Store(TS.MulAdd(step, TS.Div(mv, denom), pv), p + i);              // p -= lr/bc1 * m/denom
        }
        for (; i < n; i++)
        {
            float pv = p[i], gv = g[i];
            if (a.Decoupled) pv *= 1 - a.Lr * a.WeightDecay;
            else gv += a.WeightDecay * pv;
            m[i] = a.Beta1 * m[i] + (1 - a.Beta1) * gv;
            v[i] = a.Beta2 * v[i] + (1 - a.Beta2) * gv * gv;
            p[i] = pv - a.StepSize * (m[i] / (MathF.Sqrt(v[i]) * a.InvSqrtBc2 + a.Eps));
        }
    }
}
