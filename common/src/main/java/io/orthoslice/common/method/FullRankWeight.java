package io.orthoslice.common.method;

import io.orthoslice.common.tensor.Cast;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.model.PaddedMatrix;

/**
 * The step-time views of a weight that is trained in full (dense AdamW, GaLore, LDAdam): the value
 * in the compute dtype, its gradient and a copy, each owned by the step's scope.
 */
final class FullRankWeight {

  private FullRankWeight() {}

  /** W in {@code dtype}, cast on the autograd tape: fp16 gradients reach the fp32 master. */
  static NDArray value(NDArray weight, DataType dtype, NDManager scope) {
    StepScope.borrow(scope, weight);
    return Cast.to(weight, dtype);
  }

  /** W zero-padded to {@code shape} in {@code dtype}, on the tape: the padding rides on the cast. */
  static NDArray padded(NDArray weight, DataType dtype, NDManager scope, PaddedMatrix shape) {
    StepScope.borrow(scope, weight);
    return shape.pad(weight, dtype);
  }

  static NDArray gradient(NDArray weight, NDManager scope) {
    NDArray g = weight.getGradient();
    g.attach(scope);
    return g;
  }

  static NDArray copy(NDArray weight, NDManager scope) {
    NDArray copy = weight.duplicate();
    copy.attach(scope);
    return copy;
  }
}
