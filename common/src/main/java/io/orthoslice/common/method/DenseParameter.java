package io.orthoslice.common.method;

import io.orthoslice.common.tensor.HostArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.optim.AdamW;
import java.util.Map;

/** A parameter trained at full rank by AdamW: the baseline, and the rule for non-projected tensors. */
public final class DenseParameter extends FullRankTrainer {

  private final ParameterSpec spec;
  private final AdamW adam;
  private final AdamW.State state;
  private final double weightDecay;

  /** Takes ownership of {@code weight} (an array of {@code owner}). */
  public DenseParameter(ParameterSpec spec, NDArray weight, AdamW adam, double weightDecay, NDManager owner) {
    super(weight);
    this.spec = spec;
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
  public void update(double lr, double gradScale, NDManager scope) {
    NDArray g = gradients(scope).get(0);
    adam.step(weight, g, state, lr, weightDecay, gradScale, scope);
    GradientBuffers.zero(weight);
  }

  @Override
  public void rebase(NDArray w, long redraw, NDManager scope) {
    HostArrays.copyInto(weight, w);
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
