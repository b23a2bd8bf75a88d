using System.Runtime.CompilerServices;

namespace NormNet.Kernels;

public static unsafe partial class DirectConvolution
{
    /// <summary>The output channels [First, End) an epilogue stores, the bias (null for none) and the addend (null for none:
    /// a tensor of y's shape added to each output before the activation, <see cref="ForwardAdd(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ConvGeometry, int, Span{float}, FusedActivation)"/>).</summary>
    private readonly struct Channels(float* bias, int first, int end, float* addend = null)
    {
        public readonly float* Bias = bias, Addend = addend;
        public readonly int First = first, End = end;
    }

    // yp: (Cout, qr) padded-width output rows (OH rows of wp each, the first OW valid); b: (Cout) or null -> y: (Cout, OH / 2, OW / 2)
    /// <summary>y[o] = maxpool2x2(f(yp[o] + b[o])) for the channels: the activation in place over each channel's rows, then
    /// its 2x2 windows pooled from there (<see cref="Pooling.MaxPlane2x2"/>), while the channel is in cache.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PooledEpilogue<TS, TV, TA>(float* yp, int qr, int wp, Channels channels, int oh, int ow, float* y)
        where TS : ISimd<TV> where TV : struct where TA : IFusedActivation
    {
        // the pooled rows 0 .. 2 (OH / 2) - 1, whole vectors (the padded columns past OW, never pooled, are taken along: within qr)
        int count = oh / 2 * 2 * wp, vectorEnd = (count + TS.Width - 1) / TS.Width * TS.Width, pooled = oh / 2 * (ow / 2);
        for (int o = channels.First; o < channels.End; o++)
        {
            float* plane = yp + (long)o * qr;
            if (channels.Bias == null) StoreRow<TS, TV, TA, NoAddend>(plane, null, plane, count, vectorEnd, 0f, false);
            else StoreRow<TS, TV, TA, NoAddend>(plane, null, plane, count, vectorEnd, channels.Bias[o], true);
            Pooling.MaxPlane2x2(plane, wp, oh, ow, y + (long)o * pooled);
        }
    }

    // yp: (Cout, qr) padded-width output rows (OH rows of wp each, the first OW valid); b: (Cout) or null; r: (Cout, OH, OW) or null -> y: (Cout, OH, OW)
    /// <summary>y[o, i, j] = f(yp[o, i * wp + j] + b[o] + r[o, i, j]) (no addition without a bias or an addend, so the bits are
    /// the product's; the bias first, as a separate addition after the convolution would).</summary>
    /// <remarks>Rows are stored in y's order a whole vector at a time, the last vector running past the row's end into the
    /// next row, which is stored after it and overwrites those values (so rows narrower than a vector, or with a tail, take
    /// no scalar loop); only a row whose last vector would run past this image's output ends in scalar stores. The addend is
    /// read at the positions stored.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Epilogue<TS, TV, TA>(float* yp, int qr, int wp, Channels channels, int oh, int ow, float* y)
        where TS : ISimd<TV> where TV : struct where TA : IFusedActivation
    {
        if (channels.Addend == null) Epilogue<TS, TV, TA, NoAddend>(yp, qr, wp, channels, oh, ow, y);
        else Epilogue<TS, TV, TA, WithAddend>(yp, qr, wp, channels, oh, ow, y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Epilogue<TS, TV, TA, TR>(float* yp, int qr, int wp, Channels channels, int oh, int ow, float* y)
        where TS : ISimd<TV> where TV : struct where TA : IFusedActivation where TR : IEpilogueAddend
    {
        // a vector may run past a row only into a row this call stores after it (other chunks own the other channels)
        long end = (long)channels.End * oh * ow;
        int whole = (ow + TS.Width - 1) / TS.Width * TS.Width;
        for (int o = channels.First; o < channels.End; o++)
            for (int i = 0; i < oh; i++)
            {
                long start = ((long)o * oh + i) * ow;
                float* src = yp + (long)o * qr + i * wp, dst = y + start, add = channels.Addend + start;
                int vectorEnd = start + whole <= end ? whole : ow / TS.Width * TS.Width;
                if (channels.Bias == null) StoreRow<TS, TV, TA, TR>(src, add, dst, ow, vectorEnd, 0f, false);
                else StoreRow<TS, TV, TA, TR>(src, add, dst, ow, vectorEnd, channels.Bias[o], true);
            }
    }

    // dst[j] = f(r(src[j] + bias)) (f(r(src[j])) without a bias), r adding add[j] or nothing, j < count: whole vectors below vectorEnd (a multiple of the width), then scalars
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TS, TV, TA, TR>(float* src, float* add, float* dst, int count, int vectorEnd, float bias, bool hasBias)
        where TS : ISimd<TV> where TV : struct where TA : IFusedActivation where TR : IEpilogueAddend
    {
        TV bv = TS.Broadcast(bias);
        int j = 0;
        if (hasBias)
        {
            for (; j < vectorEnd; j += TS.Width) TS.Store(TA.Apply<TS, TV>(TR.Add<TS, TV>(TS.Add(TS.Load(src + j), bv), add + j)), dst + j);
            for (; j < count; j++) dst[j] = TA.Apply<SimdScalar, float>(TR.Add<SimdScalar, float>(src[j] + bias, add + j));
        }
        else
        {
            for (; j < vectorEnd; j += TS.Width) TS.Store(TA.Apply<TS, TV>(TR.Add<TS, TV>(TS.Load(src + j), add + j)), dst + j);
            for (; j < count; j++) dst[j] = TA.Apply<SimdScalar, float>(TR.Add<SimdScalar, float>(src[j], add + j));
        }
    }

    /// <summary>What an epilogue adds to each output after the bias: nothing, or the addend at the stored position.</summary>
    private interface IEpilogueAddend
    {
        static abstract TV Add<TS, TV>(TV v, float* add) where TS : ISimd<TV> where TV : struct;
    }

    private readonly struct NoAddend : IEpilogueAddend
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Add<TS, TV>(TV v, float* add) where TS : ISimd<TV> where TV : struct => v;
    }

    private readonly struct WithAddend : IEpilogueAddend
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static TV Add<TS, TV>(TV v, float* add) where TS : ISimd<TV> where TV : struct => TS.Add(v, TS.Load(add));
    }
}
