package io.orthoslice.common.tensor;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * A dtype change that autograd records. DJL's {@code toType} is not on the tape: a graph that
 * casts with it (fp16 compute from fp32 master weights, fp32 statistics in RMSNorm, fp32 logits)
 * silently loses every gradient before the cast. Writing into a fresh array of the target type
 * with an indexed set is torch's {@code copy_}, whose backward casts the gradient back.
 */
public final class Cast {

  private static final NDIndex ALL = new NDIndex("...");

  private Cast() {}

  /** {@code x} in {@code dtype}, differentiable; {@code x} itself when it already has that type. */
  public static NDArray to(NDArray x, DataType dtype) {
    if (x.getDataType() == dtype) {
      return x;
    }
    NDArray out = x.getManager().create(x.getShape(), dtype); // uninitialized, fully overwritten
    out.set(ALL, x);
    return out;
  }
}
