package io.orthoslice.common.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/**
 * The step-time views of a weight that is trained in full (dense AdamW, GaLore, LDAdam): the value
 * in the compute dtype, its gradient and a copy, each owned by the step's scope.
 */
final class FullRankWeight {

  private FullRankWeight() {}

  /** W in {@code dtype}; toType is differentiable, so fp16 gradients still reach the fp32 master. */
  static NDArray value(NDArray weight, DataType dtype, NDManager scope) {
    StepScope.borrow(scope, weight);
    return dtype == weight.getDataType() ? weight : weight.toType(dtype, true);
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
