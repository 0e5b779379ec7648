package io.orthoslice.common.method;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Clears a parameter's accumulated gradient by assignment ({@code grad.zero_()}). Multiplying by zero
 * is not a reset: {@code 0 * NaN = NaN}, so one non-finite value would poison every later step (we
 * saw exactly that). DJL exposes no engine-neutral way, hence the PyTorch call.
 */
final class GradientBuffers {

  private GradientBuffers() {}

  static void zero(NDArray parameter) {
    if (parameter instanceof PtNDArray pt) {
      JniUtils.zeroGrad(pt);
    } else {
      throw new IllegalStateException("only the PyTorch engine is supported, got " + parameter.getClass());
    }
  }
}
