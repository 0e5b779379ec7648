package io.orthoslice.common.config;

/**
 * Linear warm-up from 0 to {@code peak} over {@code warmup} steps, then cosine decay to {@code floor}
 * at {@code total} steps (GaLore's schedule with min_lr_ratio = floor / peak); constant {@code floor}
 * afterwards.
 */
public record LearningRateSchedule(double peak, double floor, long warmup, long total) {

  public LearningRateSchedule {
    if (!(peak > 0)) {
      throw new IllegalArgumentException("lr must be > 0, got " + peak);
    }
    if (!(floor >= 0 && floor <= peak)) {
      throw new IllegalArgumentException("min-lr must be in [0, lr], got " + floor);
    }
    if (warmup < 0 || total <= 0 || warmup > total) {
      throw new IllegalArgumentException(
          "warmup must be in [0, steps] and steps > 0; got warmup " + warmup + ", steps " + total);
    }
  }

  /** Learning rate for the step with 0-based index {@code step}. */
  public double at(long step) {
    if (step < warmup) {
      return peak * (step + 1) / warmup;
    }
    if (step >= total) {
      return floor;
    }
    double progress = (double) (step - warmup) / Math.max(1, total - warmup);
    return floor + 0.5 * (peak - floor) * (1 + Math.cos(Math.PI * progress));
  }
}
