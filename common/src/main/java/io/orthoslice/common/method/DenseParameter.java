package io.orthoslice.common.method;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.optim.AdamW;
import java.util.List;
import java.util.Map;

/** A parameter trained at full rank by AdamW: the baseline, and the rule for non-projected tensors. */
public final class DenseParameter implements ParameterTrainer {

  private final ParameterSpec spec;
  private final NDArray weight;
  private final AdamW adam;
  private final AdamW.State state;
  private final double weightDecay;

  /** Takes ownership of {@code weight} (an array of {@code owner}). */
  public DenseParameter(ParameterSpec spec, NDArray weight, AdamW adam, double weightDecay, NDManager owner) {
    this.spec = spec;
    this.weight = weight;
    this.adam = adam;
    this.weightDecay = weightDecay;
    weight.setRequiresGradient(true);
    this.state = AdamW.State.zerosLike(weight, owner);
  }

  @Override
  public ParameterSpec spec() {
    return spec;
  }

  @Override
  public NDArray dense(DataType dtype, NDManager scope) {
    return FullRankWeight.value(weight, dtype, scope);
  }

  @Override
  public List<NDArray> gradients(NDManager scope) {
    return List.of(FullRankWeight.gradient(weight, scope));
  }

  @Override
  public void update(double lr, double gradScale, NDManager scope) {
    NDArray g = gradients(scope).get(0);
    adam.step(weight, g, state, lr, weightDecay, gradScale, scope);
    GradientBuffers.zero(weight);
  }

  @Override
  public void zeroGradients(NDManager scope) {
    GradientBuffers.zero(weight);
  }

  @Override
  public void rebase(NDArray w, long redraw, NDManager scope) {
    HostArrays.copyInto(weight, w);
  }

  @Override
  public NDArray effectiveWeight(NDManager scope) {
    return FullRankWeight.copy(weight, scope);
  }

  public NDArray weight() {
    return weight;
  }

  @Override
  public Map<String, NDArray> state() {
    return Map.of("exp_avg", state.m, "exp_avg_sq", state.v);
  }

  @Override
  public long optimizerStep() {
    return state.t;
  }

  @Override
  public void loadState(Map<String, NDArray> s, long step) {
    StateArrays.copyInto(state.m, s, "exp_avg", spec.name());
    StateArrays.copyInto(state.v, s, "exp_avg_sq", spec.name());
    state.t = step;
  }

  @Override
  public MemoryUse memory() {
    long w = weight.size() * weight.getDataType().getNumOfBytes();
    return new MemoryUse(w, w, state.bytes(), 0);
  }

  @Override
  public void close() {
    state.close();
    weight.close();
  }
}
