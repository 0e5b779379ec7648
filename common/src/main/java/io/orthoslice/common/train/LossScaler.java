package io.orthoslice.common.train;

import io.orthoslice.common.config.Precision;

/**
 * Dynamic loss scaling for fp16 compute (Micikevicius et al. 2018, as torch.cuda.amp.GradScaler):
 * multiply the loss by S before backward, divide the gradients by S before the step; on an
 * overflow (inf/NaN in any gradient) skip the step and halve S; after {@code growthInterval} clean
 * steps double S. With fp32/fp64 the scale is fixed at 1 and no step is ever skipped.
 */
public final class LossScaler {

  private final boolean dynamic;
  private final int growthInterval;
  private double scale;
  private int cleanSteps;

  private LossScaler(boolean dynamic, double initial, int growthInterval) {
    this.dynamic = dynamic;
    this.scale = initial;
    this.growthInterval = growthInterval;
  }

  public static LossScaler forPrecision(Precision p) {
    return p == Precision.FP16 ? new LossScaler(true, 65536.0, 2000) : new LossScaler(false, 1.0, 0);
  }

  public double scale() {
    return scale;
  }

  public boolean dynamic() {
    return dynamic;
  }

  /** Records the outcome of a step; returns true if the step must be applied. */
  public boolean update(boolean gradientsFinite) {
    if (!dynamic) {
      return true;
    }
    if (!gradientsFinite) {
      scale = Math.max(1.0, scale / 2);
      cleanSteps = 0;
      return false;
    }
    if (++cleanSteps >= growthInterval) {
      scale *= 2;
      cleanSteps = 0;
    }
    return true;
  }

  /** For checkpoints: (scale, clean steps). */
  public double[] snapshot() {
    return new double[] {scale, cleanSteps};
  }

  public void restore(double[] s) {
    scale = s[0];
    cleanSteps = (int) s[1];
  }
}
