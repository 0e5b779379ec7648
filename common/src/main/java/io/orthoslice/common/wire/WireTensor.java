package io.orthoslice.common.wire;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One whole tensor as it travels: a name, an element type, a shape and its little-endian,
 * row-major bytes. Construction validates that the bytes fit the shape exactly.
 */
public record WireTensor(String name, WireDType dtype, long[] shape, byte[] data) {

  public WireTensor {
    if (name == null || name.isEmpty()) {
      throw new WireFormatException("tensor name must not be empty");
    }
    int size = elementBytes(dtype);
    long count = elementCount(name, shape);
    if ((long) data.length != count * size) {
      throw new WireFormatException("tensor " + name + ": " + data.length + " bytes do not match shape "
          + Arrays.toString(shape) + " of " + dtype + " (" + count * size + " bytes)");
    }
  }

  /** A float32 tensor from host values. */
  public static WireTensor ofFloats(String name, float[] values, long... shape) {
    ByteBuffer b = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return new WireTensor(name, WireDType.F32, shape.clone(), b.array());
  }

  /** A copy of an NDArray's values (any supported type) under {@code name}. */
  public static WireTensor of(String name, NDArray a) {
    ByteBuffer src = a.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    byte[] bytes = new byte[src.remaining()];
    src.get(bytes);
    return new WireTensor(name, fromDataType(a.getDataType()), a.getShape().getShape(), bytes);
  }

  public long elementCount() {
    return elementCount(name, shape);
  }

  /** A read-only float32 view of the data (no copy); only for DTYPE_F32 tensors. */
  public java.nio.FloatBuffer floatView() {
    if (dtype != WireDType.F32) {
      throw new WireFormatException("tensor " + name + " must be DTYPE_F32, got " + dtype);
    }
    return ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().asReadOnlyBuffer();
  }

  /** The values as float32; only for DTYPE_F32 tensors. */
  public float[] toFloats() {
    if (dtype != WireDType.F32) {
      throw new WireFormatException("tensor " + name + " must be DTYPE_F32, got " + dtype);
    }
    float[] out = new float[data.length / Float.BYTES];
    ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
    return out;
  }

  /** A new NDArray owned by {@code manager} with this tensor's type, shape and values. */
  public NDArray toNDArray(NDManager manager) {
    ByteBuffer direct = manager.allocateDirect(data.length);
    direct.order(ByteOrder.nativeOrder());
    if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN || elementBytes(dtype) == 1) {
      direct.put(data);
    } else {
      throw new IllegalStateException("big-endian hosts are not supported");
    }
    direct.rewind();
    NDArray a = HostArrays.owned(manager.create(direct, new Shape(shape), toDataType(dtype)));
    a.setName(name);
    return a;
  }

  /** Bytes per element of a wire type. */
  public static int elementBytes(WireDType dtype) {
    if (dtype == null) {
      throw new WireFormatException("dtype must be set");
    }
    return dtype.bytes();
  }

  public static WireDType fromDataType(DataType t) {
    return WireDType.of(t);
  }

  public static DataType toDataType(WireDType t) {
    return t.dataType();
  }

  private static long elementCount(String name, long[] shape) {
    if (shape == null || shape.length == 0) {
      throw new WireFormatException("tensor " + name + ": shape must have at least one dimension");
    }
    long n = 1;
    for (long d : shape) {
      if (d <= 0) {
        throw new WireFormatException("tensor " + name + ": every dimension must be positive, got shape "
            + Arrays.toString(shape));
      }
      n = Math.multiplyExact(n, d);
    }
    return n;
  }
}
