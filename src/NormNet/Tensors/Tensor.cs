using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NormNet;

/// <summary>
/// A dense float32 tensor, contiguous and row-major (the last dimension varies fastest).
/// </summary>
/// <remarks>
/// <para>Storage is a managed <c>float[]</c> allocated on the pinned object heap without zeroing
/// (<see cref="GC.AllocateUninitializedArray{T}(int, bool)"/>), so kernels may take its address without
/// <c>fixed</c> and big buffers are never moved by the collector. The first element sits on a 64-byte boundary
/// (a cache line, and the alignment of a 512-bit vector), so kernels can use aligned and non-temporal stores. The garbage collector is kept quiet by
/// reuse rather than pooling: every layer keeps its output and gradient tensors between calls and only
/// reallocates when the input shape changes, so a steady-state training step allocates nothing.</para>
/// <para>A tensor returned by a module's <c>Forward</c> or <c>Backward</c> belongs to that module and is
/// overwritten by its next call; use <see cref="Clone"/> to keep it.</para>
/// </remarks>
public sealed class Tensor
{
    private const int AlignmentFloats = 16;
    private readonly float[] _data;
    private readonly int _offset, _length;
    private readonly int[] _shape;

    private Tensor(float[] data, int offset, int length, int[] shape)
    {
        _data = data;
        _offset = offset;
        _length = length;
        _shape = shape;
    }

    private Tensor(long length, int[] shape)
    {
        // over-allocate by one alignment unit and start at the first 64-byte boundary; pinned, so it never moves
        _data = GC.AllocateUninitializedArray<float>((int)length + AlignmentFloats, pinned: true);
        unsafe
        {
            long address = (long)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
            _offset = (int)((64 - address % 64) % 64 / sizeof(float));
        }
        _length = (int)length;
        _shape = shape;
    }

    /// <summary>Creates a tensor of the given shape filled with zeros.</summary>
    public static Tensor Zeros(params int[] shape)
    {
        var t = new Tensor(CheckedLength(shape), (int[])shape.Clone());
        t.Span.Clear();
        return t;
    }

    /// <summary>Creates a tensor of the given shape filled with <paramref name="value"/>.</summary>
    public static Tensor Full(float value, params int[] shape)
    {
        var t = new Tensor(CheckedLength(shape), (int[])shape.Clone());
        t.Span.Fill(value);
        return t;
    }

    /// <summary>Creates a tensor whose contents are unspecified (for outputs that are fully overwritten).</summary>
    public static Tensor Uninitialized(params int[] shape) => new(CheckedLength(shape), (int[])shape.Clone());

    /// <summary>Creates a tensor holding a copy of <paramref name="data"/> with the given shape.</summary>
    /// <exception cref="ArgumentException">The shape's element count differs from <c>data.Length</c>.</exception>
    public static Tensor FromArray(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        long length = CheckedLength(shape);
        if (length != data.Length)
            throw new ArgumentException(
                $"Shape {Format(shape)} holds {length} elements but the data has {data.Length}.", nameof(data));
        var t = new Tensor(length, (int[])shape.Clone());
        data.CopyTo(t.Span);
        return t;
    }

    /// <summary>The dimensions, a copy (use <see cref="Dim"/> and <see cref="Rank"/> on hot paths).</summary>
    public int[] Shape => (int[])_shape.Clone();

    /// <summary>The dimensions without copying.</summary>
    public ReadOnlySpan<int> Dims => _shape;

    /// <summary>The number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>The number of elements.</summary>
    public int Length => _length;

    /// <summary>The size of dimension <paramref name="axis"/>; negative axes count from the end.</summary>
    public int Dim(int axis) => _shape[axis < 0 ? _shape.Length + axis : axis];

    /// <summary>The elements in row-major order.</summary>
    public Span<float> Span => _data.AsSpan(_offset, _length);

    /// <summary>The elements as a read-only span.</summary>
    public ReadOnlySpan<float> ReadOnlySpan => _data.AsSpan(_offset, _length);

    /// <summary>The element at a multi-dimensional index (slow; for tests and inspection).</summary>
    public float this[params int[] index]
    {
        get => _data[_offset + Offset(index)];
        set => _data[_offset + Offset(index)] = value;
    }

    /// <summary>A copy of the elements.</summary>
    public float[] ToArray() => ReadOnlySpan.ToArray();

    /// <summary>A deep copy.</summary>
    public Tensor Clone()
    {
        var t = new Tensor(_length, (int[])_shape.Clone());
        ReadOnlySpan.CopyTo(t.Span);
        return t;
    }

    /// <summary>Copies the elements of <paramref name="source"/>, which must have the same shape.</summary>
    public void CopyFrom(Tensor source)
    {
        if (!SameShape(source))
            throw new ArgumentException($"Cannot copy a tensor of shape {source.ShapeString} into one of shape {ShapeString}.");
        source.ReadOnlySpan.CopyTo(Span);
    }

    /// <summary>A tensor that shares this one's storage with another shape of the same element count.</summary>
    public Tensor Reshape(params int[] shape)
    {
        long length = CheckedLength(shape);
        if (length != _length)
            throw new ArgumentException($"Cannot reshape {ShapeString} ({_length} elements) to {Format(shape)} ({length} elements).");
        return new Tensor(_data, _offset, _length, (int[])shape.Clone());
    }

    /// <summary>A buffer of <paramref name="shape"/> for a layer's output or scratch: <paramref name="buffer"/> itself when
    /// it has that shape, a tensor over its storage when the storage is large enough (a short last batch after full
    /// ones, then full ones again), else a new tensor. So a layer holds one storage, sized to the largest batch it has
    /// seen, rather than one per batch size; only a change of shape allocates (a small header), never a steady state.</summary>
    internal static Tensor Reuse(Tensor? buffer, ReadOnlySpan<int> shape)
    {
        if (buffer is not null && buffer.HasShape(shape)) return buffer;
        int[] dims = shape.ToArray();
        long length = CheckedLength(dims);
        if (buffer is not null && length <= buffer._data.Length - buffer._offset)
            return new Tensor(buffer._data, buffer._offset, (int)length, dims);
        return new Tensor(length, dims);
    }

    /// <summary>Rows [start, start + rows) of <paramref name="source"/> (along its first axis), copied into <paramref name="piece"/>,
    /// which is reallocated only when it does not already hold that many rows of source's row shape.</summary>
    internal static Tensor CopyRows(Tensor source, int start, int rows, ref Tensor? piece)
    {
        if (!HasRows(piece, rows, source)) piece = Reuse(piece, [rows, .. source.Dims[1..]]);
        int length = source.Length / source.Dim(0);
        source.ReadOnlySpan.Slice(start * length, rows * length).CopyTo(piece!.Span);
        return piece;
    }

    /// <summary>Whether <paramref name="t"/> is <paramref name="rows"/> rows shaped as <paramref name="like"/>'s rows.</summary>
    internal static bool HasRows(Tensor? t, int rows, Tensor like) =>
        t is not null && t.Rank == like.Rank && t.Dim(0) == rows && t.Dims[1..].SequenceEqual(like.Dims[1..]);

    /// <summary>Whether <paramref name="other"/> has exactly this tensor's shape.</summary>
    public bool SameShape(Tensor other) => _shape.AsSpan().SequenceEqual(other._shape);

    /// <summary>Whether this tensor has exactly the given shape.</summary>
    public bool HasShape(ReadOnlySpan<int> shape) => _shape.AsSpan().SequenceEqual(shape);

    /// <summary>The shape written as in PyTorch, e.g. <c>(32, 64, 56, 56)</c>.</summary>
    public string ShapeString => Format(_shape);

    /// <inheritdoc />
    public override string ToString() => $"Tensor{ShapeString}";

    /// <summary>A reference to the first element, for kernels.</summary>
    internal ref float Reference => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_data), _offset);

    /// <summary>The storage's address; stable because storage lives on the pinned object heap.</summary>
    internal unsafe float* Pointer => (float*)Unsafe.AsPointer(ref Reference);

    /// <summary>Formats a shape as in PyTorch, e.g. <c>(32, 64)</c>.</summary>
    public static string Format(ReadOnlySpan<int> shape)
    {
        if (shape.Length == 1) return $"({shape[0]},)";
        var parts = new string[shape.Length];
        for (int i = 0; i < shape.Length; i++) parts[i] = shape[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        return "(" + string.Join(", ", parts) + ")";
    }

    private int Offset(int[] index)
    {
        if (index.Length != _shape.Length)
            throw new ArgumentException($"Index of rank {index.Length} for a tensor of shape {ShapeString}.");
        int offset = 0;
        for (int d = 0; d < index.Length; d++)
        {
            if ((uint)index[d] >= (uint)_shape[d])
                throw new IndexOutOfRangeException($"Index {index[d]} out of range for dimension {d} of shape {ShapeString}.");
            offset = offset * _shape[d] + index[d];
        }
        return offset;
    }

    private static long CheckedLength(int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long length = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"Negative dimension in shape {Format(shape)}.", nameof(shape));
            length *= d;
            if (length > Array.MaxLength) throw new ArgumentException($"Shape {Format(shape)} is too large.", nameof(shape));
        }
        return length;
    }

}
