package io.orthoslice.common.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.model.PaddedMatrix;
import java.util.List;

/**
 * What every rule that trains the full m x n weight itself shares (full rank, GaLore, LDAdam): the
 * weight as the parameter's value, its autograd gradient, and its copy as the effective weight.
 */
abstract class FullRankTrainer implements ParameterTrainer {

  /** The trained weight (master type), owned by the rule. */
  protected final NDArray weight;

  FullRankTrainer(NDArray weight) {
    this.weight = weight;
  }

  @Override
  public final NDArray dense(DataType dtype, NDManager scope) {
    return FullRankWeight.value(weight, dtype, scope);
  }

  @Override
  public final NDArray linear(NDArray x, DataType dtype, NDManager scope, PaddedMatrix shape) {
    return x.matMul(FullRankWeight.padded(weight, dtype, scope, shape).transpose());
  }

  @Override
  public final List<NDArray> gradients(NDManager scope) {
    return List.of(FullRankWeight.gradient(weight, scope));
  }

  @Override
  public final void zeroGradients(NDManager scope) {
    GradientBuffers.zero(weight);
  }

  @Override
  public final NDArray effectiveWeight(NDManager scope) {
    return FullRankWeight.copy(weight, scope);
  }
}
