package io.orthoslice.common.wire;

import ai.djl.ndarray.types.DataType;
import io.orthoslice.proto.DType;

/**
 * The element types a tensor travels in, in the protocol's own terms: the record side of the wire
 * ({@link WireTensor}, the encodings, the coordinator's checks) uses these, and only the translation to
 * and from chunks ({@link TensorCodec}, {@link TensorAssembler}) sees the generated {@code DType}.
 */
public enum WireDType {
  F32(DType.DTYPE_F32, 4, DataType.FLOAT32),
  F64(DType.DTYPE_F64, 8, DataType.FLOAT64),
  F16(DType.DTYPE_F16, 2, DataType.FLOAT16),
  I64(DType.DTYPE_I64, 8, DataType.INT64),
  I32(DType.DTYPE_I32, 4, DataType.INT32),
  I8(DType.DTYPE_I8, 1, DataType.INT8),
  U8(DType.DTYPE_U8, 1, DataType.UINT8);

  private final DType proto;
  private final int bytes;
  private final DataType array;

  WireDType(DType proto, int bytes, DataType array) {
    this.proto = proto;
    this.bytes = bytes;
    this.array = array;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }

  /** The array type a tensor of this type is read into. */
  public DataType dataType() {
    return array;
  }

  DType toProto() {
    return proto;
  }

  /** The wire type of a chunk; UNSPECIFIED and values this version does not know are refused. */
  static WireDType fromProto(DType t) {
    for (WireDType w : values()) {
      if (w.proto == t) {
        return w;
      }
    }
    throw new WireFormatException("dtype must be one of F32, F64, F16, I64, I32, I8, U8, got " + t);
  }

  /** The wire type of an array type. */
  public static WireDType of(DataType t) {
    for (WireDType w : values()) {
      if (w.array == t) {
        return w;
      }
    }
    throw new IllegalArgumentException("data type " + t + " has no wire form");
  }
}
