package io.orthoslice.common.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Host data into tensors that own their storage. DJL's {@code NDManager.create(array)} wraps a
 * direct buffer without copying (torch::from_blob), and that buffer is freed by the JVM's cleaner
 * once the wrapping Java object is closed and collected; any alias that outlives it would read freed
 * memory. Copying once into torch's allocator removes that dependency on Java object lifetimes.
 *
 * <p>The same holds for DJL's operators with a {@code Number} operand ({@code x.mul(2.0)},
 * {@code div}, {@code pow}, {@code maximum}, ...): they wrap the number in such a tensor and close it
 * at once. When autograd saved that operand for the backward pass (mul, div, pow do), the backward
 * reads a buffer the JVM may have freed and reused in between: a wrong, sometimes infinite
 * gradient, rarely and depending on garbage-collection timing. Inside a gradient collector, use
 * {@link #scalar} operands instead (ScalarOperandTest shows the failure and the cure).
 */
public final class HostArrays {

  private HostArrays() {}

  /** A copy of {@code wrapped} (just made by {@code create}) that owns its storage; closes {@code wrapped}. */
  public static NDArray owned(NDArray wrapped) {
    try (wrapped) {
      return wrapped.duplicate();
    }
  }

  /**
   * {@code value} as a 0-d tensor of {@code dtype} whose storage torch owns: an operand that autograd
   * may keep for the backward pass. It belongs to {@code m}, like any other array of the step.
   */
  public static NDArray scalar(NDManager m, double value, DataType dtype) {
    try (NDArray wrapped = m.create(value)) {
      return dtype == DataType.FLOAT64 ? wrapped.duplicate() : wrapped.toType(dtype, true);
    }
  }

  /**
   * Overwrites {@code target} in place with {@code source} by torch's own copy (an indexed set over
   * the whole array): no host buffer is involved, and whatever {@code target} held (NaN included) is
   * gone. Shapes must match; the source is converted to the target's type.
   */
  public static void copyInto(NDArray target, NDArray source) {
    if (!target.getShape().equals(source.getShape())) {
      throw new IllegalArgumentException("copyInto: shape " + source.getShape() + " into " + target.getShape());
    }
    if (source.getDataType() == target.getDataType()) {
      target.set(ALL, source);
    } else {
      try (NDArray cast = source.toType(target.getDataType(), true)) {
        target.set(ALL, cast);
      }
    }
  }

  private static final ai.djl.ndarray.index.NDIndex ALL = new ai.djl.ndarray.index.NDIndex("...");

  public static NDArray of(NDManager m, long[] data, Shape shape) {
    try (NDArray wrapped = m.create(data, shape)) {
      return wrapped.duplicate();
    }
  }

  public static NDArray of(NDManager m, float[] data, Shape shape) {
    try (NDArray wrapped = m.create(data, shape)) {
      return wrapped.duplicate();
    }
  }

  public static NDArray of(NDManager m, double[] data, Shape shape) {
    try (NDArray wrapped = m.create(data, shape)) {
      return wrapped.duplicate();
    }
  }

  /** {@code data} as float32, each value rounded to nearest (Java's cast, as torch's). */
  public static float[] narrow(double[] data) {
    float[] out = new float[data.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) data[i];
    }
    return out;
  }

  /**
   * {@code data} as {@code dtype}, owning its storage. float32 is narrowed on the host (Java's cast
   * rounds to nearest, as torch's does), so half the bytes travel to the device and no float64 copy is
   * made there.
   */
  public static NDArray of(NDManager m, double[] data, Shape shape, DataType dtype) {
    if (dtype == DataType.FLOAT32) {
      return of(m, narrow(data), shape);
    }
    try (NDArray wrapped = m.create(data, shape)) {
      return dtype == DataType.FLOAT64 ? wrapped.duplicate() : wrapped.toType(dtype, true);
    }
  }

  public static NDArray of(NDManager m, float[] data, Shape shape, DataType dtype) {
    try (NDArray wrapped = m.create(data, shape)) {
      return dtype == DataType.FLOAT32 ? wrapped.duplicate() : wrapped.toType(dtype, true);
    }
  }
}
