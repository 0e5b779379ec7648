package io.orthoslice.common.config;

/**
 * Everything that determines a training trajectory (and nothing about files or logging): with the
 * same TrainConfig, model shape, data and seed, two runs produce the same weights.
 */
public record TrainConfig(
    int seqLen,
    int microBatch,
    int gradAccum,
    long steps,
    long warmup,
    double lr,
    double minLr,
    double beta1,
    double beta2,
    double eps,
    double weightDecay,
    double gradClip,
    long seed,
    Precision precision,
    MethodSpec method) {

  public TrainConfig {
    positive("seq-len", seqLen);
    positive("batch-size", microBatch);
    positive("grad-accum", gradAccum);
    positive("steps", steps);
    if (warmup < 0 || warmup > steps) {
      throw new IllegalArgumentException("warmup must be in [0, steps=" + steps + "], got " + warmup);
    }
    if (!(weightDecay >= 0)) {
      throw new IllegalArgumentException("weight-decay must be >= 0, got " + weightDecay);
    }
    if (!(gradClip >= 0)) {
      throw new IllegalArgumentException("grad-clip must be >= 0 (0 disables clipping), got " + gradClip);
    }
    schedule(lr, minLr, warmup, steps); // validates lr and min-lr
    new AdamHyper(beta1, beta2, eps); // validates betas and eps
  }

  private static void positive(String name, long v) {
    if (v <= 0) {
      throw new IllegalArgumentException(name + " must be >= 1, got " + v);
    }
  }

  private static LearningRateSchedule schedule(double lr, double minLr, long warmup, long steps) {
    return new LearningRateSchedule(lr, minLr, warmup, steps);
  }

  /** The paper's defaults for a run of {@code steps} steps: 10% warm-up, 4e-4 -> 1e-4, AdamW (0.9, 0.95), wd 0.1. */
  public static TrainConfig defaults(long steps) {
    return new TrainConfig(256, 8, 1, steps, Math.max(1, steps / 10), 4e-4, 1e-4, 0.9, 0.95, 1e-8, 0.1,
        1.0, 42, Precision.FP32, MethodSpec.FULL_RANK);
  }

  public LearningRateSchedule schedule() {
    return schedule(lr, minLr, warmup, steps);
  }

  public long tokensPerStep() {
    return (long) seqLen * microBatch * gradAccum;
  }

  public TrainConfig withSteps(long s, long w) {
    return new TrainConfig(seqLen, microBatch, gradAccum, s, w, lr, minLr, beta1, beta2, eps,
        weightDecay, gradClip, seed, precision, method);
  }

  public TrainConfig withSeed(long s) {
    return new TrainConfig(seqLen, microBatch, gradAccum, steps, warmup, lr, minLr, beta1, beta2, eps,
        weightDecay, gradClip, s, precision, method);
  }

  public TrainConfig withPrecision(Precision p) {
    return new TrainConfig(seqLen, microBatch, gradAccum, steps, warmup, lr, minLr, beta1, beta2, eps,
        weightDecay, gradClip, seed, p, method);
  }

  public TrainConfig withMethod(MethodSpec m) {
    return new TrainConfig(seqLen, microBatch, gradAccum, steps, warmup, lr, minLr, beta1, beta2, eps,
        weightDecay, gradClip, seed, precision, m);
  }

  public TrainConfig withBatch(int seq, int micro, int accum) {
    return new TrainConfig(seq, micro, accum, steps, warmup, lr, minLr, beta1, beta2, eps,
        weightDecay, gradClip, seed, precision, method);
  }

  public TrainConfig withOptim(double lrPeak, double lrFloor, double wd, double clip) {
    return new TrainConfig(seqLen, microBatch, gradAccum, steps, warmup, lrPeak, lrFloor, beta1, beta2,
        eps, wd, clip, seed, precision, method);
  }
}
