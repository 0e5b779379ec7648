package io.orthoslice.common.method;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import java.util.Map;

/** Restoring saved optimizer arrays into live ones, with errors that name the tensor. */
final class StateArrays {

  private StateArrays() {}

  static void copyInto(NDArray target, Map<String, NDArray> saved, String key, String param) {
    NDArray src = saved.get(key);
    if (src == null) {
      throw new IllegalArgumentException("checkpoint optimizer state lacks '" + param + "." + key + "'");
    }
    if (!src.getShape().equals(target.getShape())) {
      throw new IllegalArgumentException("checkpoint optimizer state '" + param + "." + key + "' has shape "
          + src.getShape() + ", expected " + target.getShape());
    }
    HostArrays.copyInto(target, src);
  }
}
