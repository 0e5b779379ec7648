package io.orthoslice.common.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.optim.LdAdam;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A matrix trained by LDAdam (Robert et al., ICLR 2025): Adam statistics in a rank-r subspace
 * re-estimated every step, moved between subspaces by the projection-aware rule, with error
 * feedback. W moves by {@code W <- W (1 - lr wd) - lr Delta}.
 */
final class LdAdamMatrix extends FullRankTrainer {

  private final ParameterSpec spec;
  private final LdAdam ldadam;
  private final NDManager owner;
  private final double weightDecay;
  private LdAdam.State state;

  LdAdamMatrix(ParameterSpec spec, NDArray weight, LdAdam ldadam, double weightDecay, NDManager owner) {
    super(weight);
    this.spec = spec;
    this.ldadam = ldadam;
    this.owner = owner;
    this.weightDecay = weightDecay;
    weight.setRequiresGradient(true);
    this.state = ldadam.newState(owner, weight.getShape(), weight.getDataType());
  }

  @Override
  public ParameterSpec spec() {
    return spec;
  }

  @Override
  public void update(double lr, double gradScale, NDManager scope) {
    NDArray g = gradients(scope).get(0);
    NDArray delta = ldadam.direction(gradScale == 1.0 ? g : g.mul(gradScale), state);
    if (weightDecay != 0) {
      weight.muli(1 - lr * weightDecay);
    }
    weight.subi(delta.muli(lr));
    GradientBuffers.zero(weight);
  }

  @Override
  public Map<String, NDArray> state() {
    Map<String, NDArray> out = new LinkedHashMap<>();
    out.put("exp_avg", state.firstMoment());
    out.put("exp_avg_sq", state.secondMoment());
    if (state.projector() != null) {
      out.put("projector", state.projector());
    }
    if (state.error() != null) {
      out.put("error_feedback", state.error());
    }
    return out;
  }

  @Override
  public long optimizerStep() {
    return state.step();
  }

  @Override
  public void loadState(Map<String, NDArray> s, long step) {
    LdAdam.State restored = ldadam.restore(owner, weight.getShape(), step, copy(s.get("projector")),
        copy(s.get("exp_avg")), copy(s.get("exp_avg_sq")), copy(s.get("error_feedback")));
    state.close();
    state = restored;
  }

  private NDArray copy(NDArray a) {
    if (a == null) {
      return null;
    }
    NDArray c = a.duplicate();
    c.attach(owner);
    return c;
  }

  @Override
  public MemoryUse memory() {
    long w = weight.size() * weight.getDataType().getNumOfBytes();
    long p = state.projector() == null ? 0 : state.projector().size() * state.projector().getDataType().getNumOfBytes();
    // The projector is part of LDAdam's state; it is reported under projections, the rest under optimizer.
    return new MemoryUse(w, w, state.bytes() - p, p);
  }

  @Override
  public void close() {
    state.close();
    weight.close();
  }
}
