package io.orthoslice.common.config;

import ai.djl.ndarray.types.DataType;
import java.util.Locale;

/**
 * Numeric precision of a run. FP16 means fp16 compute with fp32 master weights and dynamic loss
 * scaling: DJL 0.35.1 has no bfloat16 (creating one aborts the JVM), so "bf16" is refused with a
 * message rather than crashing.
 */
public enum Precision {
  FP32(DataType.FLOAT32, DataType.FLOAT32),
  FP64(DataType.FLOAT64, DataType.FLOAT64),
  FP16(DataType.FLOAT16, DataType.FLOAT32);

  private final DataType compute;
  private final DataType master;

  Precision(DataType compute, DataType master) {
    this.compute = compute;
    this.master = master;
  }

  public DataType compute() {
    return compute;
  }

  public DataType master() {
    return master;
  }

  public static Precision parse(String s) {
    String v = s.toLowerCase(Locale.ROOT);
    return switch (v) {
      case "fp32", "float32" -> FP32;
      case "fp64", "float64" -> FP64;
      case "fp16", "float16" -> FP16;
      case "bf16", "bfloat16" -> throw new IllegalArgumentException(
          "dtype bf16 is not available: DJL 0.35.1 has no bfloat16; use fp16 (fp16 compute, fp32 master"
              + " weights, dynamic loss scaling), fp32 or fp64");
      default -> throw new IllegalArgumentException(
          "unknown dtype '" + s + "'; allowed: fp32, fp16, fp64");
    };
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
