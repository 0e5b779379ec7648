package io.orthoslice.common.wire;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.orthoslice.proto.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One whole tensor as it travels: a name, an element type, a shape and its little-endian,
 * row-major bytes. Construction validates that the bytes fit the shape exactly.
 */
public record WireTensor(String name, DType dtype, long[] shape, byte[] data) {

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
    return new WireTensor(name, DType.DTYPE_F32, shape.clone(), b.array());
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
    if (dtype != DType.DTYPE_F32) {
      throw new WireFormatException("tensor " + name + " must be DTYPE_F32, got " + dtype);
    }
    return ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().asReadOnlyBuffer();
  }

  /** The values as float32; only for DTYPE_F32 tensors. */
  public float[] toFloats() {
    if (dtype != DType.DTYPE_F32) {
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

  /** Bytes per element of a wire type; UNSPECIFIED and unknown values are refused. */
  public static int elementBytes(DType dtype) {
    if (dtype == null) {
      throw new WireFormatException("dtype must be set");
    }
    return switch (dtype) {
      case DTYPE_F32, DTYPE_I32 -> 4;
      case DTYPE_F64, DTYPE_I64 -> 8;
      case DTYPE_F16 -> 2;
      case DTYPE_I8, DTYPE_U8 -> 1;
      default -> throw new WireFormatException("dtype must be one of F32, F64, F16, I64, I32, I8, U8, got " + dtype);
    };
  }

  public static DType fromDataType(DataType t) {
    return switch (t) {
      case FLOAT32 -> DType.DTYPE_F32;
      case FLOAT64 -> DType.DTYPE_F64;
      case FLOAT16 -> DType.DTYPE_F16;
      case INT64 -> DType.DTYPE_I64;
      case INT32 -> DType.DTYPE_I32;
      case INT8 -> DType.DTYPE_I8;
      case UINT8 -> DType.DTYPE_U8;
      default -> throw new IllegalArgumentException("data type " + t + " has no wire form");
    };
  }

  public static DataType toDataType(DType t) {
    return switch (t) {
      case DTYPE_F32 -> DataType.FLOAT32;
      case DTYPE_F64 -> DataType.FLOAT64;
      case DTYPE_F16 -> DataType.FLOAT16;
      case DTYPE_I64 -> DataType.INT64;
      case DTYPE_I32 -> DataType.INT32;
      case DTYPE_I8 -> DataType.INT8;
      case DTYPE_U8 -> DataType.UINT8;
      default -> throw new WireFormatException("dtype " + t + " has no array type");
    };
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
