using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace NormNet.Serialization;

/// <summary>One named tensor of a safetensors file: its dtype name (<c>F32</c>, <c>I64</c>, ...), shape and raw little-endian bytes.</summary>
public sealed class SafeTensorsEntry
{
    /// <summary>Creates an entry; <paramref name="data"/> must hold exactly shape-product times the dtype's size bytes.</summary>
    public SafeTensorsEntry(string name, string dtype, int[] shape, byte[] data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        DType = dtype;
        Shape = shape;
        Data = data;
        long expected = ElementCount * SafeTensors.SizeOf(dtype);
        if (expected != data.Length)
            throw new ArgumentException($"Tensor '{name}' of dtype {dtype} and shape {Tensor.Format(shape)} needs {expected} bytes, got {data.Length}.");
    }

    /// <summary>A float32 entry holding a copy of <paramref name="values"/>.</summary>
    public static SafeTensorsEntry FromFloat32(string name, ReadOnlySpan<float> values, int[] shape) =>
        new(name, "F32", shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>An int64 entry.</summary>
    public static SafeTensorsEntry FromInt64(string name, ReadOnlySpan<long> values, int[] shape) =>
        new(name, "I64", shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>A float64 entry.</summary>
    public static SafeTensorsEntry FromFloat64(string name, ReadOnlySpan<double> values, int[] shape) =>
        new(name, "F64", shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>The tensor's name (for a model, its PyTorch state_dict key).</summary>
    public string Name { get; }

    /// <summary>The safetensors dtype name.</summary>
    public string DType { get; }

    /// <summary>The dimensions (empty for a scalar).</summary>
    public int[] Shape { get; }

    /// <summary>The raw little-endian bytes.</summary>
    public byte[] Data { get; }

    /// <summary>The number of elements.</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (int d in Shape) n *= d;
            return n;
        }
    }

    /// <summary>The values of an F32 entry.</summary>
    public float[] ToFloat32()
    {
        Expect("F32");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Big-endian machines are not supported.");
        return MemoryMarshal.Cast<byte, float>(Data).ToArray();
    }

    /// <summary>The values of an F64 entry.</summary>
    public double[] ToFloat64()
    {
        Expect("F64");
        return MemoryMarshal.Cast<byte, double>(Data).ToArray();
    }

    /// <summary>The values of an I64 entry.</summary>
    public long[] ToInt64()
    {
        Expect("I64");
        var result = new long[Data.Length / 8];
        for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadInt64LittleEndian(Data.AsSpan(8 * i));
        return result;
    }

    /// <summary>An F32 entry as a tensor.</summary>
    public Tensor ToTensor() => Tensor.FromArray(ToFloat32(), Shape);

    private void Expect(string dtype)
    {
        if (DType != dtype) throw new InvalidDataException($"Tensor '{Name}' has dtype {DType}, expected {dtype}.");
    }
}
