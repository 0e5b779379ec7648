package io.orthoslice.common.checkpoint;

import ai.djl.ndarray.types.DataType;

/**
 * The safetensors element types we read and write, with their DJL counterparts.
 *
 * <p>BF16 has no DJL counterpart: DJL 0.35.1 has no usable bfloat16 (creating such an array aborts
 * the JVM), so BF16 is read only, by widening to F32 in Java, and never written.
 */
public enum SafetensorsDtype {
  F64(8, DataType.FLOAT64),
  F32(4, DataType.FLOAT32),
  F16(2, DataType.FLOAT16),
  BF16(2, null),
  I64(8, DataType.INT64),
  I32(4, DataType.INT32),
  I8(1, DataType.INT8),
  U8(1, DataType.UINT8);

  private final int bytes;
  private final DataType djl;

  SafetensorsDtype(int bytes, DataType djl) {
    this.bytes = bytes;
    this.djl = djl;
  }

  public int bytes() {
    return bytes;
  }

  public boolean isFloating() {
    return this == F64 || this == F32 || this == F16 || this == BF16;
  }

  /** The DJL type an array of this dtype is created with; BF16 arrives widened to FLOAT32. */
  public DataType loadedAs() {
    return this == BF16 ? DataType.FLOAT32 : djl;
  }

  /** The safetensors code ("F32", ...) or null when the code is not one we support. */
  public static SafetensorsDtype fromCode(String code) {
    for (SafetensorsDtype d : values()) {
      if (d.name().equals(code)) {
        return d;
      }
    }
    return null;
  }

  /** The dtype an array of DJL type {@code type} is written as. */
  public static SafetensorsDtype of(DataType type) {
    for (SafetensorsDtype d : values()) {
      if (d.djl == type) {
        return d;
      }
    }
    throw new IllegalArgumentException("data type " + type
        + " cannot be written to safetensors; allowed: float64, float32, float16, int64, int32, int8, uint8");
  }
}
