package io.orthoslice.common.quant;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** Reads a weight's values to the host as float32, whatever its type and device. */
final class HostValues {

  private HostValues() {}

  static float[] float32(NDArray w) {
    if (w.getDataType() == DataType.FLOAT32) {
      return w.toFloatArray();
    }
    try (NDArray f = w.toType(DataType.FLOAT32, true)) {
      return f.toFloatArray();
    }
  }
}
