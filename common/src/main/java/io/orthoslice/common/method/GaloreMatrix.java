package io.orthoslice.common.method;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.orthoslice.common.model.ParameterSpec;
import io.orthoslice.common.optim.AdamW;
import java.util.Map;

/**
 * Gradient-transformation mode (GaLore, Zhao et al. 2024): the full gradient G of W is projected to
 * R = G P (right), P^T G (left) or L^T G R (two-sided, GaLore's {@code full}), Adam keeps its
 * moments on R only, and W moves by the lifted step {@code alpha * lift(u)}. P is re-drawn every T
 * steps; an SVD projector is computed from the gradient of the step that follows the re-draw, as
 * GaLore's code does at steps 0, T, 2T, ...
 */
final class GaloreMatrix extends FullRankTrainer {

  private final ProjectedState proj;
  private final AdamW adam;
  private final double scale;
  private final double weightDecay;

  GaloreMatrix(NDArray weight, ProjectedState proj, AdamW adam, double scale, double weightDecay) {
    super(weight);
    this.proj = proj;
    this.adam = adam;
    this.scale = scale;
    this.weightDecay = weightDecay;
    weight.setRequiresGradient(true);
    proj.schedule(0);
  }

  @Override
  public ParameterSpec spec() {
    return proj.spec;
  }

  @Override
  public void afterBackward(NDManager scope) {
    if (proj.pending()) {
      proj.drawPending(gradients(scope).get(0));
    }
  }

  @Override
  public void update(double lr, double gradScale, NDManager scope) {
    NDArray g = gradients(scope).get(0);
    NDArray r = proj.project(gradScale == 1.0 ? g : g.mul(gradScale)); // reduced shape
    NDArray u = adam.direction(r, proj.adam, scope);
    if (weightDecay != 0) {
      weight.muli(1 - lr * weightDecay);
    }
    weight.subi(proj.lift(u).muli(lr * scale));
    GradientBuffers.zero(weight);
  }

  @Override
  public void redraw(long round, NDManager scope) {
    proj.schedule(round);
  }

  @Override
  public Map<String, NDArray> state() {
    return proj.state();
  }

  @Override
  public long optimizerStep() {
    return proj.adam.t;
  }

  @Override
  public void loadState(Map<String, NDArray> s, long step) {
    proj.restore(s, step);
  }

  @Override
  public MemoryUse memory() {
    long w = weight.size() * weight.getDataType().getNumOfBytes();
    return new MemoryUse(w, w, proj.adam.bytes(), proj.persistedBytes());
  }

  @Override
  public void close() {
    proj.close();
    weight.close();
  }
}
