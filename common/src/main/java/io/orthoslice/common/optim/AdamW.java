package io.orthoslice.common.optim;

import io.orthoslice.common.config.AdamHyper;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.orthoslice.common.kernels.Kernels;
import io.orthoslice.common.kernels.NativeKernels;

/**
 * AdamW (Loshchilov and Hutter 2019) with PyTorch's update order: decoupled decay first,
 * {@code W <- W (1 - lr wd)}, then {@code W <- W - lr m_hat / (sqrt(v_hat) + eps)}.
 *
 * <p>The moment update is split from the parameter update ({@link #direction}) because projected
 * methods keep the moments on a low-rank gradient R and move W by the lifted direction; the dense
 * case lifts by the identity.
 */
public final class AdamW {

  /** First and second moments of one tensor and its step count; arrays owned by a long-lived manager. */
  public static final class State implements AutoCloseable {
    public NDArray m;
    public NDArray v;
    public long t;

    public State(NDArray m, NDArray v, long t) {
      this.m = m;
      this.v = v;
      this.t = t;
    }

    /** Fresh zero state shaped like {@code like}, owned by {@code owner}. */
    public static State zerosLike(NDArray like, NDManager owner) {
      return new State(owner.zeros(like.getShape(), like.getDataType()),
          owner.zeros(like.getShape(), like.getDataType()), 0);
    }

    public void reset() {
      m.muli(0);
      v.muli(0);
      t = 0;
    }

    public long bytes() {
      return m.size() * m.getDataType().getNumOfBytes() + v.size() * v.getDataType().getNumOfBytes();
    }

    @Override
    public void close() {
      m.close();
      v.close();
    }
  }

  private final AdamHyper hyper;

  public AdamW(AdamHyper hyper) {
    this.hyper = hyper;
  }

  public AdamHyper hyper() {
    return hyper;
  }

  /**
   * Updates the moments in place with gradient {@code g} and returns the bias-corrected direction
   * {@code m_hat / (sqrt(v_hat) + eps)}. Every temporary, and the result, belongs to {@code scope}
   * (a step-lived manager): the state arrays are only temp-attached to it while we compute.
   */
  public NDArray direction(NDArray g, State s, NDManager scope) {
    for (NDArray a : new NDArray[] {s.m, s.v}) {
      if (a.getManager() != scope) {
        scope.tempAttachAll(a); // results of ops on the state land in the step scope
      }
    }
    s.t++;
    // The same arithmetic as m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; m_hat / (sqrt(v_hat) + eps),
    // with each temporary closed as soon as it is used: at most two live at once.
    try (NDArray t = g.mul(1 - hyper.beta1())) {
      s.m.muli(hyper.beta1()).addi(t);
    }
    try (NDArray t = g.square()) {
      s.v.muli(hyper.beta2()).addi(t.muli(1 - hyper.beta2()));
    }
    double bc1 = 1 - Math.pow(hyper.beta1(), s.t);
    double bc2 = 1 - Math.pow(hyper.beta2(), s.t);
    NDArray denom;
    try (NDArray t = s.v.div(bc2)) {
      denom = t.sqrt();
    }
    denom.addi(hyper.eps());
    NDArray out = s.m.div(bc1);
    out.divi(denom);
    denom.close();
    return out;
  }

  /**
   * One dense AdamW step on {@code w} in place with gradient {@code g * gradScale}: torch's fused
   * kernel when {@link Kernels#adamw()} (no temporaries), else in-place DJL ops whose temporaries
   * belong to {@code scope}.
   */
  public void step(NDArray w, NDArray g, State s, double lr, double weightDecay, double gradScale, NDManager scope) {
    if (Kernels.adamw()) {
      s.t++;
      NativeKernels.adamw(w, g, s.m, s.v, s.t, lr, hyper.beta1(), hyper.beta2(), hyper.eps(), weightDecay, gradScale);
      return;
    }
    if (weightDecay != 0) {
      w.muli(1 - lr * weightDecay);
    }
    w.subi(direction(gradScale == 1.0 ? g : g.mul(gradScale), s, scope).muli(lr));
  }
}
