package io.orthoslice.common.round;

import java.util.HashMap;
import java.util.Map;

/**
 * DiLoCo's outer optimizer (Douillard et al. 2023): the round's change D is treated as a negative
 * pseudo-gradient and applied with Nesterov momentum, {@code m <- mu m + D; W <- W + lr (D + mu m)}.
 * With mu = 0 and lr = 1 it is the plain merge {@code W <- W + D}. Host float32, one buffer per
 * parameter; the buffers are its whole state (checkpointed by the coordinator). Parameters may be
 * stepped from several threads at once, each parameter by one.
 */
public final class OuterNesterov {

  private final double lr;
  private final double momentum;
  private final Map<String, float[]> velocity = new java.util.concurrent.ConcurrentHashMap<>();

  public OuterNesterov(double lr, double momentum) {
    if (!(lr > 0)) {
      throw new IllegalArgumentException("outer-lr must be > 0, got " + lr);
    }
    if (!(momentum >= 0 && momentum < 1)) {
      throw new IllegalArgumentException("outer-momentum must be in [0, 1), got " + momentum);
    }
    this.lr = lr;
    this.momentum = momentum;
  }

  /** True when it differs from the plain merge. */
  public boolean active() {
    return lr != 1.0 || momentum != 0.0;
  }

  /** W + step(D), a new array; {@code w} and {@code delta} are not modified. */
  public float[] apply(String name, float[] w, float[] delta) {
    if (w.length != delta.length) {
      throw new IllegalArgumentException(name + ": weights hold " + w.length + " values, delta " + delta.length);
    }
    float[] out = new float[w.length];
    if (momentum == 0.0) {
      for (int i = 0; i < w.length; i++) {
        out[i] = (float) (w[i] + lr * delta[i]);
      }
      return out;
    }
    float[] m = velocity.computeIfAbsent(name, n -> new float[w.length]);
    for (int i = 0; i < w.length; i++) {
      m[i] = (float) (momentum * m[i] + delta[i]);
      out[i] = (float) (w[i] + lr * (delta[i] + momentum * m[i]));
    }
    return out;
  }

  /** The momentum buffers by parameter name (live arrays, in name order; for checkpoints). */
  public Map<String, float[]> state() {
    return new java.util.TreeMap<>(velocity);
  }

  public void restore(Map<String, float[]> state) {
    velocity.clear();
    state.forEach((k, v) -> velocity.put(k, v.clone()));
  }
}
